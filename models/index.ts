/**
 * models/: the agents' neural networks — Llama-family transformer LMs (Llama, Qwen2, Qwen3) in
 * TensorFlow.js, loading of local Hugging Face folders, safetensors I/O, tokenizers.
 *
 * @example
 * import { loadAgent } from './models/index.ts';
 * const agent = await loadAgent('/models/Qwen2.5-0.5B-Instruct');
 * const { hidden } = agent.model.forward({ inputIds }); // [batch, seq, hidden], after the final norm
 */
export { parseDecoderConfig, SUPPORTED_MODEL_TYPES } from './architectures.ts';
export { DecoderLM, decoderWeightSpecs, type WeightSpec } from './decoder.ts';
export { ModelError, type ModelErrorCode } from './errors.ts';
export { toHFConfigJson } from './hfConfig.ts';
export { randomDecoderWeights } from './init.ts';
export { DecoderKVCache } from './kvCache.ts';
export {
  loadAgent,
  loadCausalLM,
  loadDecoderConfig,
  loadTokenizer,
  readTokenizerFiles,
} from './load.ts';
export {
  createPresetAgent,
  PRESET_NAMES,
  PRESETS,
  type PresetDefinition,
  type PresetTokenizerName,
  presetConfig,
  presetTokenizer,
  presetWeightsDir,
} from './presets.ts';
export { ropeInverseFrequencies } from './rope.ts';
export * from './safetensors.ts';
export { openSafetensorsFile, type SafetensorsFileView } from './safetensorsFile.ts';
export { argmax, sampleToken, seededRandom } from './sampling.ts';
export { saveAgent, saveCausalLM } from './save.ts';
export { HFTokenizer, type TokenizerFiles } from './tokenizer.ts';
export type * from './types.ts';
