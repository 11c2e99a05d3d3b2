/**
 * The architectures this package runs, keyed by the `model_type` of a Hugging Face config.json.
 */
import { ModelError } from './errors.ts';
import type { HFConfigJson } from './hfConfig.ts';
import { parseLlamaConfig } from './llama.ts';
import { parseQwen2Config } from './qwen2.ts';
import { parseQwen3Config } from './qwen3.ts';
import type { DecoderConfig } from './types.ts';

const PARSERS: Record<string, (json: HFConfigJson, file: string) => DecoderConfig> = {
  llama: parseLlamaConfig,
  qwen2: parseQwen2Config,
  qwen3: parseQwen3Config,
};

/** The `model_type` values that load. */
export const SUPPORTED_MODEL_TYPES = Object.keys(PARSERS);

/**
 * Reads a Hugging Face config.json (already parsed) into a DecoderConfig.
 *
 * @example
 * parseDecoderConfig({ model_type: 'qwen2', hidden_size: 64, ... }, 'tiny/config.json').architecture; // 'qwen2'
 */
export function parseDecoderConfig(json: HFConfigJson, file = 'config.json'): DecoderConfig {
  const modelType = json['model_type'];
  const parse = typeof modelType === 'string' ? PARSERS[modelType] : undefined;
  if (parse === undefined) {
    throw new ModelError(
      'UNSUPPORTED_ARCHITECTURE',
      `model type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
      { file, field: 'model_type' },
    );
  }
  return parse(json, file);
}
