/**
 * Loading a Hugging Face model folder from local disk (never the network): config.json, the
 * weights (model.safetensors, or shards listed in model.safetensors.index.json) in f32/f16/bf16,
 * tokenizer.json, tokenizer_config.json and the chat template.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseDecoderConfig } from './architectures.ts';
import { DecoderLM, decoderWeightSpecs } from './decoder.ts';
import { ModelError } from './errors.ts';
import { openSafetensorsFile, type SafetensorsFileView } from './safetensorsFile.ts';
import { HFTokenizer, type TokenizerFiles } from './tokenizer.ts';
import type { Agent, DecoderConfig } from './types.ts';

/** Reads and parses a JSON file of the folder; `undefined` when optional and absent. */
export function readJsonFile(dir: string, name: string, required: true): Record<string, unknown>;
export function readJsonFile(
  dir: string,
  name: string,
  required: false,
): Record<string, unknown> | undefined;
export function readJsonFile(
  dir: string,
  name: string,
  required: boolean,
): Record<string, unknown> | undefined {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    if (!required) return undefined;
    throw new ModelError('MISSING_FILE', 'file does not exist', { file });
  }
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new ModelError('INVALID_JSON', `is not a JSON object: ${(cause as Error).message}`, {
      file,
      cause,
    });
  }
}

/**
 * The model's config: config.json, with generation_config.json's stop tokens merged in.
 *
 * @example
 * loadDecoderConfig('/models/Qwen2.5-0.5B').hiddenSize; // 896
 */
export function loadDecoderConfig(dir: string): DecoderConfig {
  const file = path.join(dir, 'config.json');
  const config = parseDecoderConfig(readJsonFile(dir, 'config.json', true), file);
  const generation = readJsonFile(dir, 'generation_config.json', false);
  const eos = generation?.['eos_token_id'];
  const extra = Array.isArray(eos) ? eos : typeof eos === 'number' ? [eos] : [];
  const eosTokenIds = [
    ...new Set([
      ...config.eosTokenIds,
      ...extra.filter((id): id is number => Number.isInteger(id)),
    ]),
  ];
  return { ...config, eosTokenIds };
}

/**
 * Loads the network of a Hugging Face Llama / Qwen2 / Qwen3 folder. Weights of any float dtype
 * become float32 tensors; linear weights are transposed to [in, out] on the way in.
 *
 * @example
 * const model = await loadCausalLM('/models/Qwen2.5-0.5B-Instruct');
 * const { hidden } = model.forward({ inputIds });
 */
export async function loadCausalLM(dir: string): Promise<DecoderLM> {
  const config = loadDecoderConfig(dir);
  const sources = openWeightFiles(dir);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const spec of decoderWeightSpecs(config)) {
      const source = sources.fileOf(spec.name);
      const tensor = source.read(spec.name);
      const expected = spec.hfShape.join(',');
      if (tensor.shape.join(',') !== expected) {
        throw new ModelError(
          'SHAPE_MISMATCH',
          `has shape [${tensor.shape}] but config.json implies [${expected}]`,
          {
            file: sources.pathOf(spec.name),
            field: spec.name,
          },
        );
      }
      if (!(tensor.data instanceof Float32Array)) {
        throw new ModelError(
          'UNSUPPORTED_DTYPE',
          `has integer dtype ${tensor.dtype}; weights must be F32, F16 or BF16`,
          {
            file: sources.pathOf(spec.name),
            field: spec.name,
          },
        );
      }
      const loaded = tf.tensor(tensor.data, tensor.shape, 'float32');
      if (spec.linear) {
        weights.set(spec.name, tf.transpose(loaded)); // [out, in] -> [in, out]
        loaded.dispose();
      } else {
        weights.set(spec.name, loaded);
      }
    }
    return new DecoderLM(config, weights, { file: dir });
  } catch (error) {
    tf.dispose([...weights.values()]);
    throw error;
  } finally {
    sources.close();
  }
}

/** The safetensors files of a folder, and which one holds each tensor. */
function openWeightFiles(dir: string): {
  fileOf(name: string): SafetensorsFileView;
  pathOf(name: string): string;
  close(): void;
} {
  const single = path.join(dir, 'model.safetensors');
  const indexPath = path.join(dir, 'model.safetensors.index.json');
  const views = new Map<string, SafetensorsFileView>();
  const open = (file: string) => {
    let view = views.get(file);
    if (view === undefined) {
      view = openSafetensorsFile(file);
      views.set(file, view);
    }
    return view;
  };
  const close = () => {
    for (const view of views.values()) view.close();
  };
  if (fs.existsSync(single)) {
    return { fileOf: () => open(single), pathOf: () => single, close };
  }
  if (fs.existsSync(indexPath)) {
    const weightMap = readJsonFile(dir, 'model.safetensors.index.json', true)['weight_map'];
    if (typeof weightMap !== 'object' || weightMap === null) {
      throw new ModelError('INVALID_JSON', 'has no weight_map object', {
        file: indexPath,
        field: 'weight_map',
      });
    }
    const shardOf = (name: string): string => {
      const shard = (weightMap as Record<string, unknown>)[name];
      if (typeof shard !== 'string') {
        throw new ModelError('MISSING_WEIGHT', 'weight is not listed in weight_map', {
          file: indexPath,
          field: name,
        });
      }
      return path.join(dir, shard);
    };
    return { fileOf: (name) => open(shardOf(name)), pathOf: shardOf, close };
  }
  const other = ['pytorch_model.bin', 'model.pt', 'tf_model.h5'].find((f) =>
    fs.existsSync(path.join(dir, f)),
  );
  throw new ModelError(
    'MISSING_FILE',
    `no model.safetensors or model.safetensors.index.json${other ? ` (found ${other}: only safetensors weights are supported; convert them with the safetensors package)` : ''}`,
    { file: single },
  );
}

/**
 * Reads the tokenizer files of a folder: tokenizer.json (required), tokenizer_config.json and the
 * chat template (chat_template.jinja, else tokenizer_config.json's `chat_template`).
 */
export function readTokenizerFiles(dir: string): TokenizerFiles {
  const tokenizerJson = readJsonFile(dir, 'tokenizer.json', true);
  const tokenizerConfig = readJsonFile(dir, 'tokenizer_config.json', false) ?? {};
  const templateFile = path.join(dir, 'chat_template.jinja');
  let chatTemplate: string | undefined;
  if (fs.existsSync(templateFile)) {
    chatTemplate = fs.readFileSync(templateFile, 'utf8');
  } else {
    const field = tokenizerConfig['chat_template'];
    if (typeof field === 'string') {
      chatTemplate = field;
    } else if (Array.isArray(field)) {
      // Several named templates: transformers uses the one named "default".
      const named = field.find((t) => (t as { name?: unknown }).name === 'default') as
        | { template?: unknown }
        | undefined;
      if (typeof named?.template === 'string') chatTemplate = named.template;
    }
  }
  return {
    tokenizerJson,
    tokenizerConfig,
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
  };
}

/**
 * Loads a folder's tokenizer. Stop ids from config.json and generation_config.json, when present,
 * are added to the tokenizer's `eos_token`.
 *
 * @example
 * const tokenizer = await loadTokenizer('/models/Qwen2.5-0.5B-Instruct');
 * tokenizer.encode('Hello'); // [9707]
 */
export async function loadTokenizer(dir: string): Promise<HFTokenizer> {
  const files = readTokenizerFiles(dir);
  let eosTokenIds: number[] = [];
  let padTokenId: number | undefined;
  if (fs.existsSync(path.join(dir, 'config.json'))) {
    const config = loadDecoderConfig(dir);
    eosTokenIds = config.eosTokenIds;
    padTokenId = config.padTokenId;
  }
  return new HFTokenizer(files, {
    eosTokenIds,
    ...(padTokenId !== undefined ? { padTokenId } : {}),
    file: path.join(dir, 'tokenizer.json'),
  });
}

/**
 * Loads an agent — network and tokenizer — from a local Hugging Face folder, in one call.
 *
 * @example
 * const agent = await loadAgent('/models/Qwen2.5-0.5B-Instruct');
 * const ids = agent.tokenizer.encode(agent.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }]));
 * const [reply] = agent.model.generate({ inputIds: tf.tensor2d([ids], undefined, 'int32') }, { maxNewTokens: 32 });
 * agent.model.dispose();
 */
export async function loadAgent(dir: string, options: { name?: string } = {}): Promise<Agent> {
  const tokenizer = await loadTokenizer(dir);
  const model = await loadCausalLM(dir);
  return { name: options.name ?? path.basename(path.resolve(dir)), model, tokenizer };
}
