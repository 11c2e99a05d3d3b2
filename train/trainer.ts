/**
 * The training loop every method here shares (inner links, outer links, LoRA, full fine-tuning):
 * seeded data order, micro-batches with gradient accumulation, global-norm clipping, AdamW on a
 * cosine schedule with warmup, a loss history, checkpoints and exact resume.
 *
 * What differs between methods is only which variables train and the loss of a batch; the loss
 * function runs inside tf.variableGrads, so anything it computes from the trained variables
 * (a link, a LoRA delta, a model rebuilt from variables) gets gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { TrainError } from './errors.ts';
import { AdamW } from './optim/adamw.ts';
import { clipByGlobalNorm, globalNorm } from './optim/clip.ts';
import { cosineWithWarmup } from './optim/schedule.ts';
import { type ProgressOptions, progressBar } from './progress.ts';
import { epochOrder, SeededRandom } from './rng.ts';

export interface TrainConfig {
  /** Optimizer steps of the whole run (the schedule's length). */
  steps: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimizer step; their gradients are averaged. Default 1. */
  gradAccumulation: number;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Global-norm clip; null disables. */
  maxGradNorm: number | null;
  /** Seeds the data order and the run's RNG. */
  seed: number;
}

/**
 * The official RecursiveMAS settings (train_inner.py / outer/sequential.py): AdamW lr 5e-4,
 * betas (0.9, 0.95), weight decay 0, clip 1.0, cosine schedule with 10 warmup steps.
 */
export const OFFICIAL_TRAIN_CONFIG = {
  lr: 5e-4,
  warmupSteps: 10,
  betas: [0.9, 0.95],
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1.0,
  gradAccumulation: 1,
} as const satisfies Partial<TrainConfig>;

/** What the loss function may use besides the batch. */
export interface LossContext {
  /** Optimizer steps done before this one. */
  step: number;
  /** The run's seeded RNG (its state is checkpointed). */
  rng: SeededRandom;
}

/** The loss of a micro-batch, computed from the trained variables; called inside variableGrads. */
export type BatchLoss<P> = (prepared: P, context: LossContext) => tf.Scalar;

export interface TrainerOptions<E, P = E[]> {
  /** The variables that train, by stable name (names are the checkpoint's keys). */
  params: ReadonlyMap<string, tf.Variable>;
  data: readonly E[];
  /**
   * Work on a micro-batch that needs no gradient (a frozen model's forward pass), run outside the
   * gradient tape like torch.no_grad, so its activations are not kept for the backward pass. The
   * trainer disposes every tensor the result holds after the step. Default: the batch itself.
   */
  prepare?: (batch: E[]) => P;
  loss: BatchLoss<P>;
  config: Partial<TrainConfig> & Pick<TrainConfig, 'steps' | 'batchSize' | 'seed'>;
  /** Progress bar settings; false: none. */
  progress?: ProgressOptions | false;
}

export interface StepReport {
  /** Optimizer steps done after this one (1-based). */
  step: number;
  /** Mean micro-batch loss of the step (before the update). */
  loss: number;
  /** Learning rate the update used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Examples the step consumed. */
  samples: number;
  /** Wall time of the step. */
  ms: number;
}

/**
 * @example
 * const trainer = new Trainer({
 *   params: link.namedParameters(), data: examples, config: { steps: 100, batchSize: 4, seed: 1 },
 *   loss: (batch) => innerLinkLoss(model, link, encodeBatch(batch)),
 * });
 * trainer.run();                       // or trainer.run(50), save, and later resume and run()
 * await trainer.save('runs/inner/step-50');
 */
export class Trainer<E, P = E[]> {
  readonly config: TrainConfig;
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly history: number[] = [];
  private readonly optimizer: AdamW;
  private readonly lrAt: (step: number) => number;
  private readonly varNames = new Map<string, string>();
  private rng: SeededRandom;
  private epoch = 0;
  private index = 0;
  private order: number[];
  private stepsDone = 0;

  constructor(private readonly options: TrainerOptions<E, P>) {
    this.config = { ...OFFICIAL_TRAIN_CONFIG, ...options.config } as TrainConfig;
    const c = this.config;
    if (options.data.length === 0)
      throw new TrainError('EMPTY_DATASET', 'the training data is empty');
    if (!Number.isInteger(c.batchSize) || c.batchSize <= 0) {
      throw new TrainError(
        'INVALID_CONFIG',
        `batchSize must be a positive integer, got ${c.batchSize}`,
      );
    }
    if (!Number.isInteger(c.gradAccumulation) || c.gradAccumulation <= 0) {
      throw new TrainError(
        'INVALID_CONFIG',
        `gradAccumulation must be a positive integer, got ${c.gradAccumulation}`,
      );
    }
    if (options.params.size === 0) throw new TrainError('INVALID_CONFIG', 'no parameters to train');
    for (const [name, v] of options.params) {
      if (!v.trainable) {
        throw new TrainError('INVALID_CONFIG', `parameter '${name}' is a non-trainable variable`);
      }
      this.varNames.set(v.name, name);
    }
    this.params = options.params;
    this.optimizer = new AdamW(options.params, {
      betas: c.betas,
      eps: c.eps,
      weightDecay: c.weightDecay,
    });
    this.lrAt = cosineWithWarmup({ baseLr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps });
    this.rng = new SeededRandom(c.seed);
    this.order = epochOrder(options.data.length, c.seed, 0);
  }

  /** Optimizer steps done. */
  get step(): number {
    return this.stepsDone;
  }

  /** The next micro-batch in the seeded order (an epoch boundary may fall inside a batch). */
  private nextBatch(): E[] {
    const batch: E[] = [];
    while (batch.length < this.config.batchSize) {
      if (this.index >= this.order.length) {
        this.epoch += 1;
        this.index = 0;
        this.order = epochOrder(this.options.data.length, this.config.seed, this.epoch);
      }
      batch.push(this.options.data[this.order[this.index++]!]!);
    }
    return batch;
  }

  /** One optimizer step: accumulate, clip, update. */
  trainStep(): StepReport {
    const start = performance.now();
    const c = this.config;
    const varList = [...this.params.values()];
    let summed: Map<string, tf.Tensor> | undefined;
    let lossSum = 0;
    for (let micro = 0; micro < c.gradAccumulation; micro++) {
      const batch = this.nextBatch();
      const context: LossContext = { step: this.stepsDone, rng: this.rng };
      const prepare = this.options.prepare;
      const prepared = prepare ? prepare(batch) : (batch as unknown as P);
      let value: tf.Scalar;
      let grads: tf.NamedTensorMap;
      try {
        ({ value, grads } = tf.variableGrads(() => this.options.loss(prepared, context), varList));
      } finally {
        if (prepare) tf.dispose(prepared as unknown as tf.TensorContainer);
      }
      const loss = value.dataSync()[0]!;
      value.dispose();
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(grads));
        tf.dispose(summed ? [...summed.values()] : []);
        throw new TrainError('NON_FINITE_LOSS', `loss is ${loss} at step ${this.stepsDone + 1}`);
      }
      lossSum += loss;
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(this.varNames.get(varName)!, g);
      if (summed === undefined) {
        summed = named;
      } else {
        for (const [name, g] of named) {
          const previous = summed.get(name);
          summed.set(name, previous ? tf.add(previous, g) : g.clone());
          previous?.dispose();
          g.dispose();
        }
      }
    }
    const averaged = new Map<string, tf.Tensor>();
    for (const [name, g] of summed!) {
      averaged.set(name, c.gradAccumulation === 1 ? g : tf.div(g, c.gradAccumulation));
      if (c.gradAccumulation !== 1) g.dispose();
    }
    let gradNorm: number;
    let update = averaged;
    if (c.maxGradNorm !== null) {
      const clipped = clipByGlobalNorm(averaged, c.maxGradNorm);
      gradNorm = clipped.norm;
      update = clipped.grads;
      tf.dispose([...averaged.values()]);
    } else {
      gradNorm = globalNorm(averaged);
    }
    const lr = this.lrAt(this.stepsDone);
    this.optimizer.step(update, lr);
    tf.dispose([...update.values()]);
    this.stepsDone += 1;
    const loss = lossSum / c.gradAccumulation;
    this.history.push(loss);
    return {
      step: this.stepsDone,
      loss,
      lr,
      gradNorm,
      samples: c.batchSize * c.gradAccumulation,
      ms: performance.now() - start,
    };
  }

  /**
   * Trains until `untilStep` optimizer steps are done (default: the configured total), drawing the
   * progress bar. Returns the reports of the steps it ran.
   */
  run(untilStep = this.config.steps, onStep?: (report: StepReport) => void): StepReport[] {
    const reports: StepReport[] = [];
    const bar =
      this.options.progress === false
        ? undefined
        : progressBar(this.config.steps, this.options.progress ?? {});
    try {
      while (this.stepsDone < untilStep) {
        const report = this.trainStep();
        reports.push(report);
        onStep?.(report);
        bar?.update(report.step, {
          loss: report.loss,
          samplesPerSecond: (report.samples * 1000) / Math.max(report.ms, 1e-3),
        });
      }
    } finally {
      bar?.stop();
    }
    return reports;
  }

  /** The checkpoint JSON of the run as it is now. */
  checkpointState(extra?: Record<string, unknown>): CheckpointState {
    const c = this.config;
    return {
      format: 'rmas.train-checkpoint',
      version: 1,
      step: this.stepsDone,
      config: { ...c },
      schedule: {
        kind: 'cosine-warmup',
        baseLr: c.lr,
        warmupSteps: c.warmupSteps,
        totalSteps: c.steps,
      },
      optimizer: {
        kind: 'adamw',
        step: this.optimizer.stepsTaken,
        betas: c.betas,
        eps: c.eps,
        weightDecay: c.weightDecay,
      },
      data: {
        seed: c.seed,
        size: this.options.data.length,
        epoch: this.epoch,
        index: this.index,
      },
      rng: { state: this.rng.state },
      lossHistory: [...this.history],
      params: [...this.params.keys()],
      ...(extra !== undefined ? { extra } : {}),
    };
  }

  /**
   * Writes a checkpoint (weights + optimizer moments as safetensors, the rest as JSON).
   *
   * @example await trainer.save('runs/outer/step-50', { note: 'half way' });
   */
  async save(dir: string, extra?: Record<string, unknown>): Promise<void> {
    const { m, v } = this.optimizer.state();
    await saveCheckpoint(dir, this.checkpointState(extra), { params: this.params, m, v });
  }

  /**
   * Loads a checkpoint into this trainer (its parameters, optimizer, data position, RNG and loss
   * history), after checking that it was made by a run with the same configuration, data size
   * and parameters. The next `trainStep` continues the saved run's loss curve.
   *
   * @example
   * const trainer = new Trainer(sameOptions);
   * const { extra } = await trainer.resume('runs/outer/step-50');
   * trainer.run();
   */
  async resume(dir: string): Promise<CheckpointState> {
    const loaded = await loadCheckpoint(dir);
    try {
      const { state } = loaded;
      const mismatched = Object.entries(this.config)
        .filter(([key, value]) => JSON.stringify(state.config[key]) !== JSON.stringify(value))
        .map(
          ([key, value]) =>
            `${key} (checkpoint ${JSON.stringify(state.config[key])}, run ${JSON.stringify(value)})`,
        );
      if (mismatched.length > 0) {
        throw new TrainError(
          'CHECKPOINT_INVALID',
          `${dir}: the checkpoint's config differs from this run's: ${mismatched.join('; ')}`,
        );
      }
      if (state.data.size !== this.options.data.length) {
        throw new TrainError(
          'CHECKPOINT_INVALID',
          `${dir}: the checkpoint was trained on ${state.data.size} examples, this run has ${this.options.data.length}`,
        );
      }
      const expected = [...this.params.keys()].sort().join(', ');
      if ([...state.params].sort().join(', ') !== expected) {
        throw new TrainError(
          'PARAM_MISMATCH',
          `${dir}: the checkpoint trains [${state.params.join(', ')}], this run trains [${expected}]`,
        );
      }
      for (const [name, p] of this.params) {
        const saved = loaded.params.get(name)!;
        if (saved.shape.join(',') !== p.shape.join(',')) {
          throw new TrainError(
            'PARAM_MISMATCH',
            `${dir}: parameter '${name}' has shape [${saved.shape}] in the checkpoint, [${p.shape}] here`,
          );
        }
      }
      for (const [name, p] of this.params) p.assign(loaded.params.get(name)!);
      this.optimizer.loadState({ step: state.optimizer.step, m: loaded.m, v: loaded.v });
      this.stepsDone = state.step;
      this.epoch = state.data.epoch;
      this.index = state.data.index;
      this.order = epochOrder(this.options.data.length, this.config.seed, this.epoch);
      this.rng = new SeededRandom(this.config.seed, state.rng.state);
      this.history.splice(0, this.history.length, ...state.lossHistory);
      return state;
    } finally {
      tf.dispose([...loaded.params.values(), ...loaded.m.values(), ...loaded.v.values()]);
    }
  }

  /** Frees the optimizer's moments (the parameters stay their owner's). */
  dispose(): void {
    this.optimizer.dispose();
  }
}
