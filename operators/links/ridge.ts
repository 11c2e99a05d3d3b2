/**
 * Closed-form ridge regression, W = (XᵀX + λI)⁻¹ XᵀY, the solve behind the ridge
 * initialisations of the links. The Gram matrices come from tf (float32 matMuls); the p×p solve
 * runs in float64 (Cholesky) in plain JS, because tfjs has no linalg.solve and λ is tiny (1e-5).
 */
import * as tf from '@tensorflow/tfjs';
import { OperatorError } from '../errors.ts';

/**
 * Solves (gram + λI) W = rhs for W, with gram [p, p] symmetric positive semi-definite and rhs
 * [p, q]. Returns [p, q] (float32, caller owns).
 *
 * @example const w = solveRidge(xtx, xty, 1e-5);
 */
export function solveRidge(gram: tf.Tensor2D, rhs: tf.Tensor2D, lambda: number): tf.Tensor2D {
  const [p, p2] = gram.shape;
  const [rp, q] = rhs.shape;
  if (p !== p2 || rp !== p) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `solveRidge: gram must be [p, p] and rhs [p, q], got [${gram.shape}] and [${rhs.shape}]`,
    );
  }
  const a = Float64Array.from(gram.dataSync());
  for (let i = 0; i < p; i++) a[i * p + i]! += lambda;
  // Cholesky a = L·Lᵀ, L stored in the lower triangle of `a`.
  for (let j = 0; j < p; j++) {
    let diag = a[j * p + j]!;
    for (let k = 0; k < j; k++) diag -= a[j * p + k]! * a[j * p + k]!;
    if (!(diag > 0)) {
      throw new OperatorError(
        'INVALID_ARGUMENT',
        `solveRidge: matrix not positive definite at column ${j} (raise lambda)`,
      );
    }
    const ljj = Math.sqrt(diag);
    a[j * p + j] = ljj;
    for (let i = j + 1; i < p; i++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= a[i * p + k]! * a[j * p + k]!;
      a[i * p + j] = s / ljj;
    }
  }
  const b = Float64Array.from(rhs.dataSync());
  // Forward substitution L·Z = B, then back substitution Lᵀ·W = Z, column by column.
  for (let c = 0; c < q; c++) {
    for (let i = 0; i < p; i++) {
      let s = b[i * q + c]!;
      for (let k = 0; k < i; k++) s -= a[i * p + k]! * b[k * q + c]!;
      b[i * q + c] = s / a[i * p + i]!;
    }
    for (let i = p - 1; i >= 0; i--) {
      let s = b[i * q + c]!;
      for (let k = i + 1; k < p; k++) s -= a[k * p + i]! * b[k * q + c]!;
      b[i * q + c] = s / a[i * p + i]!;
    }
  }
  return tf.tensor2d(Float32Array.from(b), [p, q]);
}

/**
 * Ridge regression of Y on X: argmin_W ‖X·W − Y‖² + λ‖W‖², X [n, p], Y [n, q] -> W [p, q].
 *
 * @example const w = ridgeRegression(x, y, 1e-5); // x·w ≈ y
 */
export function ridgeRegression(x: tf.Tensor2D, y: tf.Tensor2D, lambda: number): tf.Tensor2D {
  if (x.shape[0] !== y.shape[0]) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `ridgeRegression: X and Y need the same number of rows, got [${x.shape}] and [${y.shape}]`,
    );
  }
  const [gram, rhs] = tf.tidy(() => {
    const xt = tf.transpose(x); // [p, n]
    return [tf.matMul(xt, x), tf.matMul(xt, y)] as const;
  });
  try {
    return solveRidge(gram, rhs, lambda);
  } finally {
    gram.dispose();
    rhs.dispose();
  }
}
