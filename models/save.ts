/**
 * Writing an agent as a Hugging Face folder (config.json, generation_config.json, model.safetensors
 * and the tokenizer files) that loadAgent — and transformers — read back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decoderWeightSpecs } from './decoder.ts';
import { toHFConfigJson } from './hfConfig.ts';
import { type SafetensorsEntry, writeSafetensors } from './safetensors.ts';
import { HFTokenizer } from './tokenizer.ts';
import type { Agent, CausalLM } from './types.ts';

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/**
 * Writes the network's config and weights to `dir` (created if needed). Linear weights go back
 * to Hugging Face's [out, in] layout; `dtype` chooses how they are stored.
 *
 * @example
 * saveCausalLM(agent.model, '/tmp/my-agent', { dtype: 'BF16' });
 */
export function saveCausalLM(
  model: CausalLM,
  dir: string,
  options: { dtype?: 'F32' | 'F16' | 'BF16' } = {},
): void {
  const dtype = options.dtype ?? 'F32';
  fs.mkdirSync(dir, { recursive: true });
  const config = model.config;
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    `${JSON.stringify({ ...toHFConfigJson(config), torch_dtype: TORCH_DTYPE[dtype] }, null, 2)}\n`,
  );
  const generation = {
    ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    ...(config.padTokenId !== undefined ? { pad_token_id: config.padTokenId } : {}),
  };
  fs.writeFileSync(
    path.join(dir, 'generation_config.json'),
    `${JSON.stringify(generation, null, 2)}\n`,
  );
  const entries = new Map<string, SafetensorsEntry>();
  for (const spec of decoderWeightSpecs(config)) {
    const tensor = model.weights.get(spec.name);
    if (tensor === undefined) throw new Error(`model has no weight ${spec.name}`);
    const data = spec.linear ? tf.tidy(() => tf.transpose(tensor).dataSync()) : tensor.dataSync();
    entries.set(spec.name, { shape: spec.hfShape, data: data as Float32Array, dtype });
  }
  fs.writeFileSync(
    path.join(dir, 'model.safetensors'),
    writeSafetensors(entries, { format: 'pt' }),
  );
}

/**
 * Writes an agent — network and tokenizer — as a Hugging Face folder.
 *
 * @example
 * const agent = await createPresetAgent('tiny-planner-96', { seed: 1 });
 * saveAgent(agent, 'models/presets/weights/tiny-planner-96');
 */
export function saveAgent(
  agent: Agent,
  dir: string,
  options: { dtype?: 'F32' | 'F16' | 'BF16' } = {},
): void {
  saveCausalLM(agent.model, dir, options);
  if (!(agent.tokenizer instanceof HFTokenizer)) {
    throw new Error(
      'saveAgent can only write tokenizers loaded from Hugging Face files (HFTokenizer)',
    );
  }
  const { tokenizerJson, tokenizerConfig, chatTemplate } = agent.tokenizer.files;
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  const { chat_template: _inline, ...config } = tokenizerConfig;
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  if (chatTemplate !== undefined)
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), chatTemplate);
}
