/**
 * RecursiveLink: the small trainable modules of RecursiveMAS (paper §3.1, Eq. 3–4).
 *
 * Inner link (inside one agent, last-layer state -> next input embedding), d -> d.
 * Outer link (between agents, sender space d_i -> receiver input-embedding space d_j).
 *
 * Variants carry the names of the official training code (train/model.py), so a checkpoint's
 * `adapter_type` maps onto one of them:
 *
 * | variant                     | formula (x: input, LN: LayerNorm, σ: exact GELU)                 |
 * |-----------------------------|------------------------------------------------------------------|
 * | ln_res_adapter (default)    | post_LN( x + proj2(σ(proj1(pre_LN(x)))) )          (release code) |
 * | res_adapter                 | x + proj2(σ(proj1(x)))             paper Eq. 3: h + W2·σ(W1·h)   |
 * | adapter                     | proj2(σ(proj1(x)))                 ablation "2-Layer"            |
 * | linear_res_adapter          | x + proj1(x)                       ablation "Res+1-Layer"        |
 * | linear_adapter              | proj1(x)                           ablation "1-Layer"            |
 * | outer_ln_res_adapter (def.) | LN_t( proj2(σ(proj1(LN_s(x)))) + residual_proj(x) ) (release)    |
 * | outer_ln_adapter            | LN_t( proj2(σ(proj1(LN_s(x)))) )                                 |
 * | outer_res_adapter           | proj2(σ(proj1(x))) + residual_proj(x)  paper Eq. 4: W2σ(W1h)+W3h |
 * | outer_adapter               | proj2(σ(proj1(x)))                                               |
 * | outer_linear_res_adapter    | proj1(x) + residual_proj(x)                                      |
 * | outer_linear_adapter        | proj1(x)                                                         |
 *
 * Every proj is an affine layer (weight and bias, like torch nn.Linear). The outer MLP's hidden
 * width is 2·d_out for the LayerNorm variants and d_out for the others, as in the training code;
 * `hiddenDim` overrides it (the paper's plain form with a 2·d_j-wide MLP is
 * `{ variant: 'outer_res_adapter', hiddenDim: 2 * outDim }`).
 *
 * Weights are stored as `[in, out]` (so the forward pass is a plain matMul, which is ~10x faster
 * than a transposed one on wasm); saved files use torch's `[out, in]` layout and key names.
 */
import * as tf from '@tensorflow/tfjs';
import { OperatorError } from '../errors.ts';
import { gelu } from './gelu.ts';
import { type LayerNormParams, layerNorm, TORCH_LAYER_NORM_EPS } from './layerNorm.ts';

export type LinkKind = 'inner' | 'outer';

export const INNER_LINK_VARIANTS = [
  'ln_res_adapter',
  'res_adapter',
  'adapter',
  'linear_res_adapter',
  'linear_adapter',
] as const;
export const OUTER_LINK_VARIANTS = [
  'outer_ln_res_adapter',
  'outer_ln_adapter',
  'outer_res_adapter',
  'outer_adapter',
  'outer_linear_res_adapter',
  'outer_linear_adapter',
] as const;
export type InnerLinkVariant = (typeof INNER_LINK_VARIANTS)[number];
export type OuterLinkVariant = (typeof OUTER_LINK_VARIANTS)[number];
export type LinkVariant = InnerLinkVariant | OuterLinkVariant;

/** The default variant per kind: the LayerNorm placements of the official release. */
export const DEFAULT_LINK_VARIANT = {
  inner: 'ln_res_adapter',
  outer: 'outer_ln_res_adapter',
} as const satisfies Record<LinkKind, LinkVariant>;

/** Short names of the training code (`--adapter_type 2layer_res`, ...), per kind. */
const VARIANT_ALIASES: Record<LinkKind, Record<string, LinkVariant>> = {
  inner: {
    '1layer': 'linear_adapter',
    '1layer_res': 'linear_res_adapter',
    '2layer': 'adapter',
    '2layer_res': 'res_adapter',
    '2layer_ln_res': 'ln_res_adapter',
    paper: 'res_adapter',
  },
  outer: {
    '1layer': 'outer_linear_adapter',
    '1layer_res': 'outer_linear_res_adapter',
    '2layer': 'outer_adapter',
    '2layer_res': 'outer_res_adapter',
    '2layer_ln_res': 'outer_ln_res_adapter',
    paper: 'outer_res_adapter',
  },
};

/**
 * Resolves a variant name or training-code alias ('2layer_res', 'paper', ...) for a link kind.
 *
 * @example normalizeLinkVariant('outer', '2layer_ln_res') // 'outer_ln_res_adapter'
 */
export function normalizeLinkVariant(kind: LinkKind, name: string): LinkVariant {
  const resolved = VARIANT_ALIASES[kind][name] ?? name;
  const allowed: readonly string[] = kind === 'inner' ? INNER_LINK_VARIANTS : OUTER_LINK_VARIANTS;
  if (!allowed.includes(resolved)) {
    throw new OperatorError(
      'LINK_VARIANT_UNKNOWN',
      `unknown ${kind} link variant '${name}'; expected one of ${allowed.join(', ')}`,
    );
  }
  return resolved as LinkVariant;
}

/** What a variant is made of. */
export interface LinkStructure {
  /** One affine layer instead of the 2-layer GELU MLP. */
  readonly linear: boolean;
  /** Inner: + x. */
  readonly identityResidual: boolean;
  /** Outer: + residual_proj(x) (W3). */
  readonly projectedResidual: boolean;
  /** pre_LN/post_LN (inner) or LN_source/LN_target (outer). */
  readonly layerNorms: boolean;
}

/**
 * @example linkStructure('res_adapter') // { linear: false, identityResidual: true, ... }
 */
export function linkStructure(variant: LinkVariant): LinkStructure {
  const outer = variant.startsWith('outer_');
  const base = outer ? variant.slice('outer_'.length) : variant;
  const residual =
    base === 'ln_res_adapter' || base === 'res_adapter' || base === 'linear_res_adapter';
  return {
    linear: base.startsWith('linear_'),
    identityResidual: !outer && residual,
    projectedResidual: outer && residual,
    layerNorms: base.startsWith('ln_'),
  };
}

/** An affine layer y = x·weight + bias. */
export interface LinearParams {
  /** [in, out] (the transpose of torch's nn.Linear.weight). */
  readonly weight: tf.Variable;
  /** [out] */
  readonly bias: tf.Variable;
}

export type LinkInit = 'kaiming' | 'torch_default' | 'zeros';

export interface LinkOptions {
  kind: LinkKind;
  /** A variant or a training-code alias; default: the official release's LayerNorm variant. */
  variant?: LinkVariant | string;
  inDim: number;
  /** Inner links: must equal inDim (the default). */
  outDim?: number;
  /** Width of the 2-layer MLP; default 2·outDim for LayerNorm outer variants, else outDim. */
  hiddenDim?: number;
  /**
   * 'kaiming' (default): weights N(0, 2/fan_in) (He), biases 0 — the setting of Theorem 4.1.
   * 'torch_default': nn.Linear's reset_parameters, U(±1/√fan_in) for weights and biases.
   * 'zeros': everything 0 (LayerNorm weights 1), for loading.
   */
  init?: LinkInit;
  /** Seed of the random init; the same seed gives the same weights. Default 0. */
  seed?: number;
  /** Default true. */
  trainable?: boolean;
  layerNormEps?: number;
}

/** The manifest fields of a link (what the saved JSON holds). */
export interface LinkSpec {
  readonly kind: LinkKind;
  readonly variant: LinkVariant;
  readonly inDim: number;
  readonly outDim: number;
  readonly hiddenDim: number;
  readonly layerNormEps: number;
}

/**
 * A RecursiveLink: owns its tf.Variables (dispose() frees them). Apply it with `applyLink`.
 *
 * @example
 * const inner = createRecursiveLink({ kind: 'inner', inDim: 64 });
 * const next = applyLink(inner, hLast); // [batch, 64] -> [batch, 64]
 */
export class RecursiveLink implements LinkSpec {
  readonly structure: LinkStructure;
  constructor(
    readonly kind: LinkKind,
    readonly variant: LinkVariant,
    readonly inDim: number,
    readonly outDim: number,
    readonly hiddenDim: number,
    readonly layerNormEps: number,
    readonly proj1: LinearParams,
    readonly proj2: LinearParams | undefined,
    readonly residualProj: LinearParams | undefined,
    /** pre_ln (inner) or ln_source (outer). */
    readonly preNorm: LayerNormParams | undefined,
    /** post_ln (inner) or ln_target (outer). */
    readonly postNorm: LayerNormParams | undefined,
  ) {
    this.structure = linkStructure(variant);
  }

  /**
   * Parameters under the official state-dict names (`proj1.weight`, `pre_ln.bias`,
   * `ln_source.weight`, `residual_proj.weight`, ...). Linear weights here are `[in, out]`.
   */
  namedParameters(): Map<string, tf.Variable> {
    const named = new Map<string, tf.Variable>();
    const put = (prefix: string, p: LinearParams | LayerNormParams | undefined) => {
      if (p === undefined) return;
      named.set(`${prefix}.weight`, p.weight);
      named.set(`${prefix}.bias`, p.bias);
    };
    put('proj1', this.proj1);
    put('proj2', this.proj2);
    put('residual_proj', this.residualProj);
    put(this.kind === 'inner' ? 'pre_ln' : 'ln_source', this.preNorm);
    put(this.kind === 'inner' ? 'post_ln' : 'ln_target', this.postNorm);
    return named;
  }

  /** Every trainable variable, for optimizer.minimize / tf.variableGrads. */
  get variables(): tf.Variable[] {
    return [...this.namedParameters().values()];
  }

  get parameterCount(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  get spec(): LinkSpec {
    const { kind, variant, inDim, outDim, hiddenDim, layerNormEps } = this;
    return { kind, variant, inDim, outDim, hiddenDim, layerNormEps };
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/**
 * Resolves the dimensions of a link from options, checking them.
 *
 * @example resolveLinkSpec({ kind: 'outer', inDim: 96, outDim: 192 }).hiddenDim // 384
 */
export function resolveLinkSpec(options: LinkOptions): LinkSpec {
  const variant = normalizeLinkVariant(
    options.kind,
    options.variant ?? DEFAULT_LINK_VARIANT[options.kind],
  );
  const structure = linkStructure(variant);
  const inDim = options.inDim;
  const outDim = options.outDim ?? inDim;
  if (!Number.isInteger(inDim) || inDim <= 0 || !Number.isInteger(outDim) || outDim <= 0) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `link dims must be positive integers, got inDim=${inDim} outDim=${outDim}`,
    );
  }
  if (options.kind === 'inner' && outDim !== inDim) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `an inner link maps d -> d, got inDim=${inDim} outDim=${outDim}`,
    );
  }
  const defaultHidden = options.kind === 'outer' && structure.layerNorms ? 2 * outDim : outDim;
  // A one-layer link has no hidden layer: proj1 maps straight to the output.
  const hiddenDim = structure.linear ? outDim : (options.hiddenDim ?? defaultHidden);
  if (!Number.isInteger(hiddenDim) || hiddenDim <= 0) {
    throw new OperatorError('LINK_SHAPE_MISMATCH', `hiddenDim must be a positive integer`);
  }
  return {
    kind: options.kind,
    variant,
    inDim,
    outDim,
    hiddenDim,
    layerNormEps: options.layerNormEps ?? TORCH_LAYER_NORM_EPS,
  };
}

/**
 * Creates a link with fresh weights.
 *
 * @example
 * const outer = createRecursiveLink({ kind: 'outer', inDim: 96, outDim: 192, seed: 7 });
 */
export function createRecursiveLink(options: LinkOptions): RecursiveLink {
  const spec = resolveLinkSpec(options);
  const structure = linkStructure(spec.variant);
  const init = options.init ?? 'kaiming';
  const trainable = options.trainable ?? true;
  let seed = options.seed ?? 0;
  // tfjs treats seed 0 as "no seed" (Math.random): keep every layer's seed off 0.
  const nextSeed = () => seed++ || 0x9e3779b1;

  const linear = (inDim: number, outDim: number): LinearParams =>
    tf.tidy(() => {
      let weight: tf.Tensor2D;
      let bias: tf.Tensor1D;
      if (init === 'zeros') {
        weight = tf.zeros([inDim, outDim]);
        bias = tf.zeros([outDim]);
      } else if (init === 'kaiming') {
        weight = tf.randomNormal([inDim, outDim], 0, Math.sqrt(2 / inDim), 'float32', nextSeed());
        bias = tf.zeros([outDim]);
      } else {
        const bound = 1 / Math.sqrt(inDim);
        weight = tf.randomUniform([inDim, outDim], -bound, bound, 'float32', nextSeed());
        bias = tf.randomUniform([outDim], -bound, bound, 'float32', nextSeed());
      }
      return { weight: tf.variable(weight, trainable), bias: tf.variable(bias, trainable) };
    });
  const norm = (dim: number): LayerNormParams =>
    tf.tidy(() => ({
      weight: tf.variable(tf.ones([dim]), trainable),
      bias: tf.variable(tf.zeros([dim]), trainable),
      eps: spec.layerNormEps,
    }));

  const proj1 = linear(spec.inDim, spec.hiddenDim);
  const proj2 = structure.linear ? undefined : linear(spec.hiddenDim, spec.outDim);
  const residualProj = structure.projectedResidual ? linear(spec.inDim, spec.outDim) : undefined;
  const preNorm = structure.layerNorms ? norm(spec.inDim) : undefined;
  const postNorm = structure.layerNorms ? norm(spec.outDim) : undefined;
  return new RecursiveLink(
    spec.kind,
    spec.variant,
    spec.inDim,
    spec.outDim,
    spec.hiddenDim,
    spec.layerNormEps,
    proj1,
    proj2,
    residualProj,
    preNorm,
    postNorm,
  );
}

function affine(x: tf.Tensor2D, p: LinearParams): tf.Tensor2D {
  return tf.add(tf.matMul(x, p.weight as tf.Tensor2D), p.bias);
}

/**
 * The link's forward pass: `[..., inDim] -> [..., outDim]`, row-wise (batched over every
 * leading axis). Differentiable w.r.t. the link's variables and its input. The caller owns the
 * result; the input is borrowed.
 *
 * @example const e = applyLink(inner, h); // R_in(h)
 */
export function applyLink<T extends tf.Tensor>(link: RecursiveLink, x: T): T {
  const last = x.shape[x.rank - 1];
  if (last !== link.inDim) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `${link.kind} link (${link.variant}) expects last dim ${link.inDim}, got [${x.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [-1, link.inDim]) as tf.Tensor2D; // [n, in]
    const h = link.preNorm ? layerNorm(flat, link.preNorm) : flat;
    let out = link.proj2
      ? affine(gelu(affine(h, link.proj1)), link.proj2) // [n, hidden] -> [n, out]
      : affine(h, link.proj1);
    if (link.structure.identityResidual) out = tf.add(flat, out);
    if (link.residualProj) out = tf.add(out, affine(flat, link.residualProj));
    if (link.postNorm) out = layerNorm(out, link.postNorm);
    return tf.reshape(out, [...x.shape.slice(0, -1), link.outDim]) as T;
  });
}
