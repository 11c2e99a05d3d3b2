/**
 * Fresh weights for a decoder, from a seed: normal(0, initializer_range) for embeddings and linear
 * weights, ones for norms, zeros for biases — transformers' `_init_weights` for the Llama family.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderWeightSpecs } from './decoder.ts';
import type { DecoderConfig } from './types.ts';

/**
 * The same seed gives the same weights on every backend (the random numbers come from tfjs-core,
 * not from the backend). Linear weights are made directly in the [in, out] layout the decoder
 * holds. The caller owns the returned tensors (DecoderLM takes them over).
 *
 * @example
 * const model = new DecoderLM(config, randomDecoderWeights(config, 42));
 */
export function randomDecoderWeights(config: DecoderConfig, seed: number): Map<string, tf.Tensor> {
  const std = config.initializerRange ?? 0.02;
  const weights = new Map<string, tf.Tensor>();
  decoderWeightSpecs(config).forEach((spec, index) => {
    const shape = spec.linear ? [spec.hfShape[1]!, spec.hfShape[0]!] : spec.hfShape;
    const tensor =
      spec.init === 'ones'
        ? tf.ones(shape)
        : spec.init === 'zeros'
          ? tf.zeros(shape)
          : tf.randomNormal(shape, 0, std, 'float32', tfjsSeed(seed, index));
    weights.set(spec.name, tensor);
  });
  return weights;
}

/**
 * A per-tensor seed that tfjs honours: tfjs treats seed 0 as "no seed" and draws from
 * Math.random, so the one combination that hashes to 0 is moved off it.
 */
function tfjsSeed(seed: number, index: number): number {
  return (Math.imul(seed, 0x9e3779b1) + index) >>> 0 || 0x9e3779b1;
}
