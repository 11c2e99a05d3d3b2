/**
 * Llama (transformers `LlamaForCausalLM`): the base of the family. Pre-norm decoder blocks of
 * RMSNorm → grouped-query self-attention with rotary embeddings (optionally Llama-3 scaled) →
 * residual → RMSNorm → SwiGLU MLP → residual, then a final RMSNorm and the LM head. The forward
 * pass itself is in decoder.ts; this file says what a Llama config means.
 *
 * `attention_bias` puts a bias on all four attention projections (q, k, v and o).
 */
import { ConfigReader, type HFConfigJson, readDecoderConfig } from './hfConfig.ts';
import type { DecoderConfig } from './types.ts';

/** `LlamaConfig` defaults for the fields a config.json may omit. */
export const LLAMA_DEFAULTS = {
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 2048,
  tieWordEmbeddings: false,
  attentionBias: false,
};

/**
 * @example
 * const config = parseLlamaConfig(JSON.parse(fs.readFileSync('config.json', 'utf8')), 'config.json');
 */
export function parseLlamaConfig(json: HFConfigJson, file: string): DecoderConfig {
  const config = readDecoderConfig(new ConfigReader(json, file), 'llama', LLAMA_DEFAULTS);
  return { ...config, outputBias: config.attentionBias };
}
