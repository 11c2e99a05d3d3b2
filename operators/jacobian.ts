/**
 * Jacobian spectral norms for the gradient-stability measurement of Theorem 4.1: the inner link
 * R(h) = h + W2·σ(W1·h) keeps ‖J‖₂ near 1, a text hand-off R_text(h) = W_in·softmax(W_out·h)
 * has ‖J‖₂ ≤ O(ε) when the next token is confident.
 *
 * The maps are row-wise, so the whole Jacobian comes from one batched vector-Jacobian product:
 * feed k copies of the point, and the gradient of Σ_i y_i[i] w.r.t. the copies has row i = J[i, :].
 * The spectral norm is then found by power iteration on JᵀJ in float64.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../models/types.ts';
import { OperatorError } from './errors.ts';
import { applyLink, type RecursiveLink } from './links/recursiveLink.ts';

/** A row-wise map [n, dIn] -> [n, dOut]. */
export type RowMap = (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * J [dOut, dIn] of a row-wise map at a point [dIn], as a Float64Array (row-major).
 *
 * @example const { values, rows, cols } = rowMapJacobian((x) => applyLink(inner, x), h);
 */
export function rowMapJacobian(
  f: RowMap,
  point: tf.Tensor1D,
): { values: Float64Array; rows: number; cols: number } {
  const cols = point.shape[0];
  const jacobian = tf.tidy(() => {
    const x = point.reshape([1, cols]) as tf.Tensor2D;
    const rows = f(x).shape[1];
    const copies = tf.tile(x, [rows, 1]) as tf.Tensor2D; // [dOut, dIn]
    const pick = tf.eye(rows); // selects output i from copy i
    return tf.grad((c: tf.Tensor) => tf.sum(tf.mul(f(c as tf.Tensor2D), pick)))(copies); // [dOut, dIn]
  });
  const rows = jacobian.shape[0]!;
  const values = Float64Array.from(jacobian.dataSync());
  jacobian.dispose();
  return { values, rows, cols };
}

/**
 * Largest singular value of a row-major [rows, cols] matrix by power iteration on AᵀA.
 *
 * @example spectralNorm(Float64Array.from([3, 0, 0, 1]), 2, 2) // 3
 */
export function spectralNorm(
  values: Float64Array,
  rows: number,
  cols: number,
  options: { iterations?: number; tolerance?: number; seed?: number } = {},
): number {
  const iterations = options.iterations ?? 500;
  const tolerance = options.tolerance ?? 1e-10;
  let state = (options.seed ?? 1) >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296) * 2 - 1;
  };
  let v = Float64Array.from({ length: cols }, random);
  const av = new Float64Array(rows);
  let sigma = 0;
  for (let it = 0; it < iterations; it++) {
    let vNorm = 0;
    for (const x of v) vNorm += x * x;
    vNorm = Math.sqrt(vNorm);
    if (vNorm === 0) return 0;
    for (let j = 0; j < cols; j++) v[j]! /= vNorm;
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += values[i * cols + j]! * v[j]!;
      av[i] = s;
    }
    let next = 0;
    for (const x of av) next += x * x;
    next = Math.sqrt(next); // ‖A v‖ with ‖v‖ = 1: a lower bound that rises to σ_max
    const w = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const a = av[i]!;
      for (let j = 0; j < cols; j++) w[j]! += values[i * cols + j]! * a;
    }
    v = w;
    const converged = Math.abs(next - sigma) <= tolerance * Math.max(1, next);
    sigma = next;
    if (converged) break;
  }
  return sigma;
}

/**
 * ‖J‖₂ of a row-wise map at a point.
 *
 * @example jacobianSpectralNorm((x) => tf.mul(x, 2), tf.tensor1d([1, 2])) // 2
 */
export function jacobianSpectralNorm(f: RowMap, point: tf.Tensor1D): number {
  const { values, rows, cols } = rowMapJacobian(f, point);
  return spectralNorm(values, rows, cols);
}

/**
 * ‖∂R_in/∂h‖₂ at h [d].
 *
 * @example innerLinkJacobianNorm(inner, h) // ≈ 1 at Kaiming init (Theorem 4.1)
 */
export function innerLinkJacobianNorm(link: RecursiveLink, h: tf.Tensor1D): number {
  return jacobianSpectralNorm((x) => applyLink(link, x), h);
}

/**
 * The text hand-off R_text(h) = W_in·softmax(W_out·h / temperature) as a row-wise map, with
 * W_in the embedding table [V, d_in] and W_out the LM head [V, d] (torch layout).
 */
export function textHandoff(
  embeddingTable: tf.Tensor2D,
  lmHeadWeight: tf.Tensor2D,
  temperature = 1,
): RowMap {
  if (embeddingTable.shape[0] !== lmHeadWeight.shape[0]) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `textHandoff: embedding table [${embeddingTable.shape}] and LM head [${lmHeadWeight.shape}] disagree on |V|`,
    );
  }
  return (x) =>
    tf.tidy(() => {
      const logits = tf.matMul(x, lmHeadWeight, false, true); // [n, V]
      return tf.matMul(tf.softmax(tf.div(logits, temperature)), embeddingTable); // [n, d_in]
    });
}

/**
 * ‖∂R_text/∂h‖₂ at h [d].
 *
 * @example textHandoffJacobianNorm(table, head, h) // small when softmax(W_out·h) is peaked
 */
export function textHandoffJacobianNorm(
  embeddingTable: tf.Tensor2D,
  lmHeadWeight: tf.Tensor2D,
  h: tf.Tensor1D,
  temperature = 1,
): number {
  return jacobianSpectralNorm(textHandoff(embeddingTable, lmHeadWeight, temperature), h);
}

/**
 * R_text of an agent, through the model contract: its LM head (`model.lmHead`) and its input
 * embedding table (looked up once, held until `dispose()`).
 *
 * @example
 * const text = modelTextHandoff(agent.model);
 * const norm = jacobianSpectralNorm(text.map, h);
 * text.dispose();
 */
export function modelTextHandoff(
  model: CausalLM,
  temperature = 1,
): { map: RowMap; dispose: () => void } {
  const vocab = model.config.vocabSize;
  const table = tf.tidy(
    () =>
      model
        .embed(tf.range(0, vocab, 1, 'int32').reshape([1, vocab]) as tf.Tensor2D)
        .reshape([vocab, model.config.hiddenSize]) as tf.Tensor2D,
  ); // [V, d]
  return {
    map: (x) =>
      tf.tidy(() =>
        tf.matMul(tf.softmax(tf.div(model.lmHead(x), temperature)) as tf.Tensor2D, table),
      ),
    dispose: () => table.dispose(),
  };
}
