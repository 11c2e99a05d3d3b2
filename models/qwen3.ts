/**
 * Qwen3 (transformers `Qwen3ForCausalLM`): a Llama decoder with an RMSNorm over each head's
 * queries and keys (`q_norm`, `k_norm`, weight [head_dim]) applied before the rotary embedding,
 * an explicit `head_dim` that need not equal hidden_size / heads, and `attention_bias` on all four
 * attention projections (off in released checkpoints).
 */
import { ConfigReader, type HFConfigJson, readDecoderConfig } from './hfConfig.ts';
import type { DecoderConfig } from './types.ts';

/** `Qwen3Config` defaults for the fields a config.json may omit. */
export const QWEN3_DEFAULTS = {
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 32768,
  tieWordEmbeddings: false,
  attentionBias: false,
};

/**
 * @example
 * const config = parseQwen3Config(JSON.parse(fs.readFileSync('config.json', 'utf8')), 'config.json');
 */
export function parseQwen3Config(json: HFConfigJson, file: string): DecoderConfig {
  // Qwen3Config's head_dim defaults to 128, not hidden_size / heads.
  const withHeadDim = { head_dim: 128, ...json };
  const config = readDecoderConfig(new ConfigReader(withHeadDim, file), 'qwen3', QWEN3_DEFAULTS);
  return { ...config, qkNorm: true, outputBias: config.attentionBias };
}
