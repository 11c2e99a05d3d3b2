/**
 * Closed-form ridge initialisations of the links.
 *
 * Inner link (LatentMAS's "latent realignment", training-free): M = (W_outᵀW_out + λI)⁻¹W_outᵀW_in,
 * λ = 1e-5, where W_out [V, d] is the LM head and W_in [V, d] the input-embedding table. M asks
 * that the direction the head reads for token v (row v of W_out) lands on v's input embedding
 * (row v of W_in), so e = h·M maps a last-layer state into input-embedding space. LatentMAS then
 * rescales e to the mean embedding norm.
 *
 * How M is written into each inner variant (documented choice; x is the link input):
 * - linear_adapter:      proj1.W = M                      -> R(x) = x·M exactly
 * - linear_res_adapter:  proj1.W = M − I                  -> x + x(M − I) = x·M exactly
 * - adapter / res_adapter: the GELU MLP is put in its linear regime:
 *   proj1.W = ε·I, proj2.W = (2/ε)·(M or M − I), because (2/ε)·GELU(ε·z) = z + O(ε·z²)
 *   -> R(x) ≈ x·M (relative error ≈ 0.8·ε·|z|, ε = 1e-2 by default)
 * - ln_res_adapter (release): as res_adapter on pre_LN(x) ≈ (x − μ)/s, with proj2 scaled by the
 *   typical per-element std s of the agent's last-layer states (measured on a probe forward pass,
 *   or given), so x + s·(M − I)·LN(x) ≈ x·M; post_LN then plays LatentMAS's rescale: its bias is
 *   the embedding table's mean row and its weight the table's per-element std, so outputs have
 *   the embedding table's location and scale.
 *
 * Outer link (between two agents' input-embedding spaces, over sample text): the transfer feeds
 * R_out with R_in(H), which the inner link puts in the sender's input-embedding space, and R_out
 * must produce the receiver's input embeddings. So pairs are built from sample text, one per
 * whitespace-delimited word: x = mean sender embedding of the word's sender tokens, y = mean
 * receiver embedding of its receiver tokens (the two tokenizers may split it differently). The
 * affine ridge fit y ≈ (x − x̄)·B + ȳ is written into:
 * - outer_linear_adapter:      proj1 = (B, ȳ − x̄B)                      exact
 * - outer_linear_res_adapter:  residual_proj = (B, ȳ − x̄B), proj1 = 0    exact
 * - outer_res_adapter:         residual_proj = (B, ȳ − x̄B), proj2 = 0    exact (proj1 keeps its
 *   random init so the MLP branch can start learning)
 * - outer_ln_res_adapter:      residual_proj = (B, −x̄B), proj2 = 0, LN_target = (std(y), ȳ)
 * - outer_adapter / outer_ln_adapter: the MLP in its linear regime, proj1.W = ε·B·Q,
 *   proj2.W = (2/ε)·Qᵀ with Q = [I | 0] (needs hiddenDim ≥ outDim); LN_target as above.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, CausalLM } from '../../models/types.ts';
import { OperatorError } from '../errors.ts';
import type { LinearParams, RecursiveLink } from './recursiveLink.ts';
import { ridgeRegression, solveRidge } from './ridge.ts';

/** LatentMAS's λ. */
export const LATENT_REALIGN_LAMBDA = 1e-5;
/** Default scale that puts the GELU MLP in its linear regime. */
export const LINEAR_REGIME_EPSILON = 1e-2;

export interface LatentRealignment {
  /** [d, d]: e ≈ h·M. */
  matrix: tf.Tensor2D;
  /** [d]: mean row of the input-embedding table. */
  embeddingMean: tf.Tensor1D;
  /** Per-element std of the embedding table around its mean row. */
  embeddingStd: number;
  /** Mean L2 norm of the embedding rows (LatentMAS's target_norm). */
  embeddingNorm: number;
}

/** [V, d]: the input-embedding table, through the contract (embed of every id). */
function embeddingTable(model: CausalLM): tf.Tensor2D {
  const vocab = model.config.vocabSize;
  return tf.tidy(() => {
    const ids = tf.range(0, vocab, 1, 'int32').reshape([1, vocab]) as tf.Tensor2D;
    return model.embed(ids).reshape([vocab, model.config.hiddenSize]) as tf.Tensor2D;
  });
}

/**
 * LatentMAS's realignment matrix M = (W_outᵀW_out + λI)⁻¹W_outᵀW_in for one model, plus the
 * embedding-table statistics the LayerNorm variants need. Caller disposes matrix/embeddingMean.
 *
 * @example const { matrix } = latentRealignment(agent.model); // e ≈ h·matrix
 */
export function latentRealignment(
  model: CausalLM,
  lambda: number = LATENT_REALIGN_LAMBDA,
): LatentRealignment {
  const d = model.config.hiddenSize;
  const [gram, rhs, mean, stats] = tf.tidy(() => {
    const headT = model.lmHead(tf.eye(d)) as tf.Tensor2D; // [d, V] = W_outᵀ
    const table = embeddingTable(model); // [V, d] = W_in
    const gram = tf.matMul(headT, tf.transpose(headT)); // [d, d]
    const rhs = tf.matMul(headT, table); // [d, d]
    const mean = tf.mean(table, 0) as tf.Tensor1D; // [d]
    const std = tf.sqrt(tf.mean(tf.square(tf.sub(table, mean))));
    const norm = tf.mean(tf.norm(table, 'euclidean', 1));
    return [gram as tf.Tensor2D, rhs as tf.Tensor2D, mean, tf.stack([std, norm])] as const;
  });
  try {
    const matrix = solveRidge(gram, rhs, lambda);
    const [embeddingStd, embeddingNorm] = stats.dataSync();
    return {
      matrix,
      embeddingMean: mean,
      embeddingStd: embeddingStd!,
      embeddingNorm: embeddingNorm!,
    };
  } finally {
    gram.dispose();
    rhs.dispose();
    stats.dispose();
  }
}

/**
 * Typical per-element std of a model's last-layer states: one forward pass over `probeIds`
 * (default: 32 ids spread over the vocabulary), mean over positions of the per-position std.
 */
export function hiddenStateStd(model: CausalLM, probeIds?: number[]): number {
  const vocab = model.config.vocabSize;
  const count = Math.min(32, vocab);
  const ids = probeIds ?? Array.from({ length: count }, (_, i) => Math.floor((i * vocab) / count));
  const std = tf.tidy(() => {
    const { hidden } = model.forward({ inputIds: tf.tensor2d([ids], [1, ids.length], 'int32') });
    const { variance } = tf.moments(hidden, 2);
    return tf.mean(tf.sqrt(variance));
  });
  const value = std.dataSync()[0]!;
  std.dispose();
  return value;
}

export interface InnerRidgeOptions {
  /** Default 1e-5 (LatentMAS). */
  lambda?: number;
  /** Linear-regime scale of the GELU MLP variants; default 1e-2. */
  epsilon?: number;
  /** ln_res_adapter: per-element std of last-layer states; default measured by a probe pass. */
  hiddenStd?: number;
  probeIds?: number[];
}

function assignLinear(p: LinearParams, weight: tf.Tensor, bias: tf.Tensor): void {
  p.weight.assign(weight as tf.Tensor2D);
  p.bias.assign(bias as tf.Tensor1D);
}

/**
 * Writes LatentMAS's closed-form realignment into an inner link (see the file comment for the
 * per-variant mapping). The link's variables are overwritten in place.
 *
 * @example
 * const inner = createRecursiveLink({ kind: 'inner', inDim: agent.model.config.hiddenSize });
 * initInnerLinkFromRidge(inner, agent.model);
 */
export function initInnerLinkFromRidge(
  link: RecursiveLink,
  model: CausalLM,
  options: InnerRidgeOptions = {},
): void {
  const d = model.config.hiddenSize;
  if (link.kind !== 'inner' || link.inDim !== d) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `initInnerLinkFromRidge needs an inner link of dim ${d}, got ${link.kind} ${link.inDim}->${link.outDim}`,
    );
  }
  const eps = options.epsilon ?? LINEAR_REGIME_EPSILON;
  const realign = latentRealignment(model, options.lambda ?? LATENT_REALIGN_LAMBDA);
  const s = link.structure.layerNorms
    ? (options.hiddenStd ?? hiddenStateStd(model, options.probeIds))
    : 1;
  try {
    tf.tidy(() => {
      const m = realign.matrix;
      const target = link.structure.identityResidual ? tf.sub(m, tf.eye(d)) : m;
      const zero = tf.zeros([d]);
      if (link.proj2 === undefined) {
        assignLinear(link.proj1, target, zero);
      } else {
        assignLinear(
          link.proj1,
          tf.mul(tf.eye(d, link.hiddenDim), eps),
          tf.zeros([link.hiddenDim]),
        );
        assignLinear(
          link.proj2,
          tf.mul(tf.eye(link.hiddenDim, d).matMul(target), (2 / eps) * s),
          zero,
        );
      }
      if (link.preNorm) {
        link.preNorm.weight.assign(tf.ones([d]));
        link.preNorm.bias.assign(tf.zeros([d]));
      }
      if (link.postNorm) {
        link.postNorm.weight.assign(tf.fill([d], realign.embeddingStd));
        link.postNorm.bias.assign(realign.embeddingMean);
      }
    });
  } finally {
    realign.matrix.dispose();
    realign.embeddingMean.dispose();
  }
}

/** Whitespace-delimited words with their leading space (" word"), as BPE vocabularies split. */
function words(texts: string[]): string[] {
  return texts.flatMap((t) => t.match(/\s*\S+/g) ?? []);
}

/** [K, d]: mean input embedding of each chunk's tokens, and which chunks had any token. */
function chunkEmbeddings(agent: Agent, chunks: string[]): { means: tf.Tensor2D; kept: boolean[] } {
  const idsPerChunk = chunks.map((c) => agent.tokenizer.encode(c, { addSpecialTokens: false }));
  const flat = idsPerChunk.flat();
  const kept = idsPerChunk.map((ids) => ids.length > 0);
  const means = tf.tidy(() => {
    const table = agent.model
      .embed(tf.tensor2d([flat], [1, flat.length], 'int32'))
      .reshape([flat.length, agent.model.config.hiddenSize]) as tf.Tensor2D; // [N, d]
    const averaging = new Float32Array(chunks.length * flat.length); // [K, N]
    let offset = 0;
    idsPerChunk.forEach((ids, k) => {
      for (let j = 0; j < ids.length; j++) averaging[k * flat.length + offset + j] = 1 / ids.length;
      offset += ids.length;
    });
    return tf.matMul(tf.tensor2d(averaging, [chunks.length, flat.length]), table) as tf.Tensor2D;
  });
  return { means, kept };
}

export interface OuterRidgeFit {
  /** [dIn, dOut] */
  weight: tf.Tensor2D;
  /** [dIn]: mean of the sender-side samples. */
  sourceMean: tf.Tensor1D;
  /** [dOut]: mean of the receiver-side samples. */
  targetMean: tf.Tensor1D;
  /** Per-element std of the receiver-side samples around their mean. */
  targetStd: number;
  /** How many word pairs the fit used. */
  pairs: number;
}

/**
 * Ridge fit between two agents' input-embedding spaces over sample text (pairs per word, see
 * the file comment): y − ȳ ≈ (x − x̄)·weight. Caller disposes the tensors.
 *
 * @example const fit = outerRidgeFit(planner, critic, sampleTexts);
 */
export function outerRidgeFit(
  source: Agent,
  target: Agent,
  texts: string[],
  lambda = 1e-3,
): OuterRidgeFit {
  const chunks = words(texts);
  if (chunks.length === 0) {
    throw new OperatorError('INVALID_ARGUMENT', 'outerRidgeFit: the sample texts have no words');
  }
  const src = chunkEmbeddings(source, chunks);
  const tgt = chunkEmbeddings(target, chunks);
  const keep = chunks.map((_, k) => (src.kept[k] && tgt.kept[k] ? k : -1)).filter((k) => k >= 0);
  try {
    const [xc, yc, sourceMean, targetMean, targetStd] = tf.tidy(() => {
      const index = tf.tensor1d(keep, 'int32');
      const x = tf.gather(src.means, index);
      const y = tf.gather(tgt.means, index);
      const xm = tf.mean(x, 0) as tf.Tensor1D;
      const ym = tf.mean(y, 0) as tf.Tensor1D;
      const yc = tf.sub(y, ym) as tf.Tensor2D;
      return [tf.sub(x, xm) as tf.Tensor2D, yc, xm, ym, tf.sqrt(tf.mean(tf.square(yc)))] as const;
    });
    const weight = ridgeRegression(xc, yc, lambda);
    const std = targetStd.dataSync()[0]!;
    xc.dispose();
    yc.dispose();
    targetStd.dispose();
    return { weight, sourceMean, targetMean, targetStd: std, pairs: keep.length };
  } finally {
    src.means.dispose();
    tgt.means.dispose();
  }
}

export interface OuterRidgeOptions {
  source: Agent;
  target: Agent;
  /** Sample text the pairs are drawn from (one pair per word). */
  texts: string[];
  /** Default 1e-3 (the pairs are word means, far fewer than a vocabulary). */
  lambda?: number;
  epsilon?: number;
}

/**
 * Writes a ridge fit between two agents' spaces into an outer link (see the file comment).
 *
 * @example
 * const outer = createRecursiveLink({ kind: 'outer', inDim: 96, outDim: 192 });
 * initOuterLinkFromRidge(outer, { source: planner, target: critic, texts });
 */
export function initOuterLinkFromRidge(link: RecursiveLink, options: OuterRidgeOptions): void {
  const dIn = options.source.model.config.hiddenSize;
  const dOut = options.target.model.config.hiddenSize;
  if (link.kind !== 'outer' || link.inDim !== dIn || link.outDim !== dOut) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `initOuterLinkFromRidge needs an outer link ${dIn}->${dOut}, got ${link.kind} ${link.inDim}->${link.outDim}`,
    );
  }
  const eps = options.epsilon ?? LINEAR_REGIME_EPSILON;
  const fit = outerRidgeFit(options.source, options.target, options.texts, options.lambda);
  try {
    tf.tidy(() => {
      const b = fit.weight; // [dIn, dOut]
      const shift = tf.neg(tf.matMul(fit.sourceMean.reshape([1, dIn]), b).reshape([dOut])); // −x̄B
      const affineBias = link.postNorm ? shift : tf.add(shift, fit.targetMean); // ȳ − x̄B
      const { structure } = link;
      if (link.residualProj) {
        assignLinear(link.residualProj, b, affineBias);
        if (link.proj2) {
          assignLinear(link.proj2, tf.zeros([link.hiddenDim, dOut]), tf.zeros([dOut]));
        } else {
          assignLinear(link.proj1, tf.zeros([dIn, dOut]), tf.zeros([dOut]));
        }
      } else if (structure.linear) {
        assignLinear(link.proj1, b, affineBias);
      } else {
        if (link.hiddenDim < dOut || !link.proj2) {
          throw new OperatorError(
            'LINK_SHAPE_MISMATCH',
            `the linear-regime ridge init needs hiddenDim >= outDim, got ${link.hiddenDim} < ${dOut}`,
          );
        }
        const q = tf.eye(dOut, link.hiddenDim); // [dOut, hidden], Q·Qᵀ = I
        assignLinear(
          link.proj1,
          tf.mul(tf.matMul(b, q), eps),
          tf.mul(tf.matMul(shift.reshape([1, dOut]), q).reshape([link.hiddenDim]), eps),
        );
        assignLinear(
          link.proj2,
          tf.mul(tf.transpose(q), 2 / eps),
          link.postNorm ? tf.zeros([dOut]) : fit.targetMean,
        );
      }
      if (link.preNorm) {
        link.preNorm.weight.assign(tf.ones([dIn]));
        link.preNorm.bias.assign(tf.zeros([dIn]));
      }
      if (link.postNorm) {
        link.postNorm.weight.assign(tf.fill([dOut], fit.targetStd));
        link.postNorm.bias.assign(fit.targetMean);
      }
    });
  } finally {
    fit.weight.dispose();
    fit.sourceMean.dispose();
    fit.targetMean.dispose();
  }
}
