/**
 * The baselines' trainable weights: LoRA adapters on a frozen model, or every weight of the model
 * (full fine-tuning). Both work by weight substitution: `model()` builds a decoder over the
 * effective weights (W + scale·A·B, or the trained copies) from inside the gradient scope, so the
 * gradients reach the adapters without any hook in models/.
 *
 * Cost caveat of the substitution form: the effective weight W + scale·A·B is a full matrix on
 * the tape, so the backward pass forms ∂L/∂W_eff ([in, out]) before reducing it to ∂L/∂A, ∂L/∂B.
 * A LoRA that computes x·W + scale·(x·A)·B inside the layer never forms it; with this form, LoRA's
 * time and memory are an upper bound of the real thing's.
 */
import * as tf from '@tensorflow/tfjs';
import { DecoderLM, decoderWeightSpecs } from '../models/decoder.ts';
import type { CausalLM } from '../models/types.ts';
import { TrainError } from './errors.ts';

/** Trainable weights that change what a frozen base model computes. */
export interface ModelAdaptation {
  readonly kind: 'lora' | 'full';
  readonly base: CausalLM;
  /** The variables that train, by stable name. */
  namedParameters(): Map<string, tf.Variable>;
  readonly parameterCount: number;
  /**
   * A model computing with the adapted weights. Build it inside tf.tidy or a gradient scope (its
   * derived tensors are freed with the scope) and never dispose it (it shares the weights).
   */
  model(): CausalLM;
  /**
   * Runs `fn` with the adapted model inside tf.tidy (for evaluation).
   *
   * @example const ids = adaptation.withModel((m) => m.generate({ inputIds }, { maxNewTokens: 4 }));
   */
  withModel<T extends tf.TensorContainer>(fn: (model: CausalLM) => T): T;
  dispose(): void;
}

/** The projections LoRA adapts by default: attention q, k, v, o and the MLP's gate, up, down. */
export const LORA_TARGETS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraOptions {
  /** r */
  rank: number;
  /** scale = alpha / rank; default alpha = rank (scale 1). */
  alpha?: number;
  /** Default: all of LORA_TARGETS. */
  targets?: readonly LoraTarget[];
  /** Seed of A's init. Default 0. */
  seed?: number;
}

/**
 * Rank-r adapters on the frozen model's linear weights: W_eff = W + (alpha/r)·A·B, with A [in, r]
 * initialised as PEFT's kaiming_uniform(a=√5), i.e. U(±1/√in), and B [r, out] zeros, so training
 * starts from the base model. (PEFT's lora_A [r, in] and lora_B [out, r] are these transposed, as
 * every linear weight here is held [in, out].)
 *
 * @example
 * const lora = new LoraAdapters(agent.model, { rank: 8 });
 * const loss = () => lossOf(lora.model()); // inside tf.variableGrads
 */
export class LoraAdapters implements ModelAdaptation {
  readonly kind = 'lora' as const;
  readonly rank: number;
  readonly scale: number;
  /** weight name -> [A, B] */
  private readonly adapters = new Map<string, [tf.Variable, tf.Variable]>();

  constructor(
    readonly base: CausalLM,
    options: LoraOptions,
  ) {
    const { rank } = options;
    if (!Number.isInteger(rank) || rank <= 0) {
      throw new TrainError('INVALID_CONFIG', `LoRA rank must be a positive integer, got ${rank}`);
    }
    this.rank = rank;
    this.scale = (options.alpha ?? rank) / rank;
    const targets = new Set<string>(options.targets ?? LORA_TARGETS);
    let seed = options.seed ?? 0;
    for (const spec of decoderWeightSpecs(base.config)) {
      const match = /\.(\w+_proj)\.weight$/.exec(spec.name);
      if (!spec.linear || match === null || !targets.has(match[1]!)) continue;
      const weight = base.weights.get(spec.name);
      if (weight === undefined) {
        throw new TrainError('PARAM_MISMATCH', `the model has no weight '${spec.name}'`);
      }
      const [inDim, outDim] = weight.shape as [number, number];
      const bound = 1 / Math.sqrt(inDim);
      const a = tf.tidy(() =>
        tf.variable(tf.randomUniform([inDim, rank], -bound, bound, 'float32', seed++)),
      );
      const b = tf.tidy(() => tf.variable(tf.zeros([rank, outDim])));
      this.adapters.set(spec.name, [a, b]);
    }
    if (this.adapters.size === 0) {
      throw new TrainError('INVALID_CONFIG', `no weight of the model matches the LoRA targets`);
    }
  }

  namedParameters(): Map<string, tf.Variable> {
    const named = new Map<string, tf.Variable>();
    for (const [name, [a, b]] of this.adapters) {
      named.set(`${name}.lora_A`, a);
      named.set(`${name}.lora_B`, b);
    }
    return named;
  }

  get parameterCount(): number {
    let n = 0;
    for (const [a, b] of this.adapters.values()) n += a.size + b.size;
    return n;
  }

  /** The effective weights: W + scale·A·B for adapted weights, the base tensor otherwise. */
  effectiveWeights(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, w] of this.base.weights) {
      const adapter = this.adapters.get(name);
      out.set(
        name,
        adapter === undefined
          ? w
          : tf.add(w, tf.mul(tf.matMul(adapter[0], adapter[1]), this.scale)),
      );
    }
    return out;
  }

  model(): CausalLM {
    return new DecoderLM(this.base.config, this.effectiveWeights());
  }

  withModel<T extends tf.TensorContainer>(fn: (model: CausalLM) => T): T {
    return tf.tidy(() => fn(this.model()));
  }

  dispose(): void {
    for (const [a, b] of this.adapters.values()) tf.dispose([a, b]);
  }
}

/**
 * Full fine-tuning: a trainable copy of every weight of the model (the base stays untouched).
 *
 * @example
 * const full = new FullFinetune(agent.model);
 * full.parameterCount; // every parameter of the model
 */
export class FullFinetune implements ModelAdaptation {
  readonly kind = 'full' as const;
  private readonly variables = new Map<string, tf.Variable>();

  constructor(readonly base: CausalLM) {
    for (const [name, w] of base.weights) {
      this.variables.set(
        name,
        tf.tidy(() => tf.variable(w.clone(), true)),
      );
    }
  }

  namedParameters(): Map<string, tf.Variable> {
    return new Map(this.variables);
  }

  get parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  model(): CausalLM {
    return new DecoderLM(this.base.config, new Map<string, tf.Tensor>(this.variables));
  }

  withModel<T extends tf.TensorContainer>(fn: (model: CausalLM) => T): T {
    return tf.tidy(() => fn(this.model()));
  }

  dispose(): void {
    tf.dispose([...this.variables.values()]);
  }
}

/** Number of parameters of a model (all its weights). */
export function modelParameterCount(model: CausalLM): number {
  let n = 0;
  for (const w of model.weights.values()) n += w.size;
  return n;
}
