import * as tf from '@tensorflow/tfjs';

/**
 * Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)): torch `nn.GELU()`'s default (approximate='none'),
 * which the official RecursiveLink uses. tf.erf has a gradient on every backend, so this is
 * differentiable as written.
 *
 * @example gelu(tf.tensor1d([0, 1])) // ≈ [0, 0.8413]
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as T);
}
