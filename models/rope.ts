/**
 * Rotary position embeddings as transformers computes them (`ROPE_INIT_FUNCTIONS`): the default
 * inverse frequencies theta^(-2i/d), and Llama-3's rescaling that stretches low frequencies by
 * `factor` and blends the band between `low_freq_factor` and `high_freq_factor`.
 */
import type { DecoderConfig } from './types.ts';

/**
 * [headDim / 2] inverse frequencies, rounded to float32 like PyTorch's.
 *
 * @example
 * ropeInverseFrequencies({ ropeTheta: 10000, headDim: 4 } as DecoderConfig); // [1, 0.01]
 */
export function ropeInverseFrequencies(
  config: Pick<DecoderConfig, 'ropeTheta' | 'headDim' | 'ropeScaling'>,
): Float32Array {
  const half = config.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / config.ropeTheta ** ((2 * i) / config.headDim);
  const scaling = config.ropeScaling;
  if (scaling === undefined) return inv;
  const {
    factor,
    lowFreqFactor,
    highFreqFactor,
    originalMaxPositionEmbeddings: oldContext,
  } = scaling;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const freq = inv[i]!;
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen > lowFreqWavelen) {
      inv[i] = freq / factor; // low frequencies: stretched
    } else if (wavelen >= highFreqWavelen) {
      // the band in between: interpolate between stretched and unchanged
      const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      inv[i] = ((1 - smooth) * freq) / factor + smooth * freq;
    }
  }
  return inv;
}

/**
 * cos and sin tables for the given positions, laid out as transformers does: the half-dimension
 * angles repeated twice, [positions.length, headDim].
 */
export function ropeTables(
  inverseFrequencies: Float32Array,
  positions: ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  const half = inverseFrequencies.length;
  const cos = new Float32Array(positions.length * half * 2);
  const sin = new Float32Array(positions.length * half * 2);
  for (let p = 0; p < positions.length; p++) {
    const base = p * half * 2;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[p]! * inverseFrequencies[i]!);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[base + i] = c;
      cos[base + half + i] = c;
      sin[base + i] = s;
      sin[base + half + i] = s;
    }
  }
  return { cos, sin };
}
