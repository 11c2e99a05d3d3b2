/**
 * AdamW with PyTorch's update (torch.optim.AdamW, single-tensor path, amsgrad off):
 *
 *   p ← p · (1 − lr·λ)                     decoupled weight decay
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * The moments live in tensors the optimizer owns; `state()` / `loadState()` move them in and out of
 * checkpoints so a resumed run continues bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { TrainError } from '../errors.ts';

export interface AdamWConfig {
  /** (β1, β2); torch's default (0.9, 0.999); the official RecursiveMAS runs use (0.9, 0.95). */
  betas?: [number, number];
  /** Default 1e-8 (torch). */
  eps?: number;
  /** Decoupled weight decay λ; default 0.01 (torch); the official runs use 0. */
  weightDecay?: number;
}

/** The optimizer's state: the step count and both moments per parameter. */
export interface AdamWState {
  step: number;
  /** First moments, by parameter name (owned by the optimizer unless copied). */
  m: Map<string, tf.Tensor>;
  /** Second moments, by parameter name. */
  v: Map<string, tf.Tensor>;
}

/**
 * @example
 * const opt = new AdamW(link.namedParameters(), { betas: [0.9, 0.95], weightDecay: 0 });
 * opt.step(grads, 5e-4); // grads: Map<name, tf.Tensor>, borrowed
 */
export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private stepCount = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    readonly params: ReadonlyMap<string, tf.Variable>,
    config: AdamWConfig = {},
  ) {
    this.betas = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0.01;
    const [b1, b2] = this.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) {
      throw new TrainError('INVALID_CONFIG', `AdamW betas must be in [0, 1), got [${b1}, ${b2}]`);
    }
    for (const [name, p] of params) {
      // tf.variable keeps its own copy; the tidy frees the zeros it was made from.
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
    }
  }

  /** Optimizer steps taken so far. */
  get stepsTaken(): number {
    return this.stepCount;
  }

  /**
   * One update of every parameter that has a gradient. Gradients are borrowed; a parameter with no
   * gradient in `grads` is left alone (its moments too), as torch skips params whose grad is None.
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.stepCount += 1;
    const [b1, b2] = this.betas;
    const t = this.stepCount;
    const biasCorrection1 = 1 - b1 ** t;
    const biasCorrection2Sqrt = Math.sqrt(1 - b2 ** t);
    const stepSize = lr / biasCorrection1;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      if (g.shape.join(',') !== p.shape.join(',')) {
        throw new TrainError(
          'PARAM_MISMATCH',
          `gradient of '${name}' has shape [${g.shape}] but the parameter has [${p.shape}]`,
        );
      }
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      tf.tidy(() => {
        const decayed = this.weightDecay === 0 ? p : tf.mul(p, 1 - lr * this.weightDecay);
        const mNext = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const vNext = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(vNext), biasCorrection2Sqrt), this.eps);
        m.assign(mNext);
        v.assign(vNext);
        p.assign(tf.sub(decayed, tf.mul(tf.div(mNext, denom), stepSize)));
      });
    }
  }

  /** The state, borrowed (do not dispose the tensors; copy them if they must outlive the optimizer). */
  state(): AdamWState {
    return { step: this.stepCount, m: new Map(this.m), v: new Map(this.v) };
  }

  /** Replaces the state with copies of the given one (the arguments stay the caller's). */
  loadState(state: AdamWState): void {
    for (const [kind, source, target] of [
      ['m', state.m, this.m],
      ['v', state.v, this.v],
    ] as const) {
      for (const [name, moment] of target) {
        const saved = source.get(name);
        if (saved === undefined) {
          throw new TrainError(
            'CHECKPOINT_INVALID',
            `optimizer state has no ${kind} for '${name}'`,
          );
        }
        if (saved.shape.join(',') !== moment.shape.join(',')) {
          throw new TrainError(
            'CHECKPOINT_INVALID',
            `optimizer ${kind} of '${name}' has shape [${saved.shape}], the parameter has [${moment.shape}]`,
          );
        }
        moment.assign(saved);
      }
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}
