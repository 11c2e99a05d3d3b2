/**
 * Qwen2 / Qwen2.5 (transformers `Qwen2ForCausalLM`): a Llama decoder whose q, k and v projections
 * always carry a bias while o_proj never does. Sliding-window attention (`use_sliding_window`) is
 * off in every released checkpoint and is refused here.
 */
import { ConfigReader, type HFConfigJson, readDecoderConfig } from './hfConfig.ts';
import type { DecoderConfig } from './types.ts';

/** `Qwen2Config` defaults for the fields a config.json may omit. */
export const QWEN2_DEFAULTS = {
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 32768,
  tieWordEmbeddings: false,
  attentionBias: true,
};

/**
 * @example
 * const config = parseQwen2Config(JSON.parse(fs.readFileSync('config.json', 'utf8')), 'config.json');
 */
export function parseQwen2Config(json: HFConfigJson, file: string): DecoderConfig {
  // Qwen2Config has no attention_bias field: the biases are fixed by the architecture.
  const { attention_bias: _ignored, ...rest } = json;
  const config = readDecoderConfig(new ConfigReader(rest, file), 'qwen2', QWEN2_DEFAULTS);
  return { ...config, attentionBias: true, outputBias: false };
}
