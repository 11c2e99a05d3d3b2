import * as tf from '@tensorflow/tfjs';

/** torch `nn.LayerNorm(d)`: affine weight and bias, biased variance, eps 1e-5 by default. */
export interface LayerNormParams {
  /** [d] */
  readonly weight: tf.Variable;
  /** [d] */
  readonly bias: tf.Variable;
  readonly eps: number;
}

/** The eps of torch's `nn.LayerNorm` default, which the official links use. */
export const TORCH_LAYER_NORM_EPS = 1e-5;

/**
 * LayerNorm over the last axis: (x − mean) / sqrt(var + eps) · weight + bias.
 *
 * @example layerNorm(x, link.preNorm!) // x: [n, d] -> [n, d]
 */
export function layerNorm<T extends tf.Tensor>(x: T, params: LayerNormParams): T {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, params.eps)));
    return tf.add(tf.mul(normalized, params.weight), params.bias) as T;
  });
}
