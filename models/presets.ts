/**
 * Built-in tiny agents for demos and tests: small heterogeneous decoders (three architectures,
 * widths 96 / 128 / 192, different depths, two different tokenizers) created from a seed. Trained
 * weights, when a folder holds them, load instead of the random init.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecoderLM } from './decoder.ts';
import { ModelError } from './errors.ts';
import { randomDecoderWeights } from './init.ts';
import { loadAgent, readTokenizerFiles } from './load.ts';
import { HFTokenizer } from './tokenizer.ts';
import type { Agent, DecoderConfig } from './types.ts';

const PRESETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'presets');

/** Tokenizers shipped with the package (trained by scripts/fixtures/make_model_fixtures.py). */
export type PresetTokenizerName = 'bytebpe-2k' | 'spbpe-2k';

export interface PresetDefinition {
  name: string;
  /** What the preset is meant to play in a demo system. */
  role: string;
  tokenizer: PresetTokenizerName;
  /** The network's shape; vocabulary and special token ids come from the tokenizer. */
  network: Omit<DecoderConfig, 'vocabSize' | 'eosTokenIds' | 'bosTokenId' | 'padTokenId'>;
}

const COMMON = {
  rmsNormEps: 1e-6,
  maxPositionEmbeddings: 4096,
  tieWordEmbeddings: true,
  initializerRange: 0.02,
};

/**
 * The presets. Heterogeneous on purpose: RecursiveMAS links agents of different hidden sizes and
 * families, and tests should exercise exactly that.
 */
export const PRESETS: readonly PresetDefinition[] = [
  {
    name: 'tiny-planner-96',
    role: 'planner',
    tokenizer: 'spbpe-2k',
    network: {
      ...COMMON,
      architecture: 'llama',
      hiddenSize: 96,
      intermediateSize: 256,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      headDim: 24,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 512,
      },
      attentionBias: false,
      outputBias: false,
      qkNorm: false,
    },
  },
  {
    name: 'tiny-critic-128',
    role: 'critic',
    tokenizer: 'bytebpe-2k',
    network: {
      ...COMMON,
      architecture: 'qwen3',
      hiddenSize: 128,
      intermediateSize: 384,
      numHiddenLayers: 3,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      headDim: 32,
      ropeTheta: 1000000,
      attentionBias: false,
      outputBias: false,
      qkNorm: true,
    },
  },
  {
    name: 'tiny-solver-192',
    role: 'solver',
    tokenizer: 'bytebpe-2k',
    network: {
      ...COMMON,
      architecture: 'qwen2',
      hiddenSize: 192,
      intermediateSize: 512,
      numHiddenLayers: 4,
      numAttentionHeads: 6,
      numKeyValueHeads: 2,
      headDim: 32,
      ropeTheta: 1000000,
      attentionBias: true,
      outputBias: false,
      qkNorm: false,
    },
  },
];

/** The preset names, e.g. `['tiny-planner-96', 'tiny-critic-128', 'tiny-solver-192']`. */
export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

function definition(name: string): PresetDefinition {
  const preset = PRESETS.find((p) => p.name === name);
  if (preset === undefined) {
    throw new ModelError(
      'UNKNOWN_PRESET',
      `no preset named ${JSON.stringify(name)} (presets: ${PRESET_NAMES.join(', ')})`,
      {
        field: 'name',
      },
    );
  }
  return preset;
}

/**
 * The tokenizer a preset uses.
 *
 * @example
 * presetTokenizer('bytebpe-2k').encode('2 + 3 = 5');
 */
export function presetTokenizer(name: PresetTokenizerName): HFTokenizer {
  const dir = path.join(PRESETS_DIR, 'tokenizers', name);
  return new HFTokenizer(readTokenizerFiles(dir), { file: path.join(dir, 'tokenizer.json') });
}

/**
 * A preset's full DecoderConfig (vocabulary and special tokens filled in from its tokenizer).
 *
 * @example
 * presetConfig('tiny-solver-192').hiddenSize; // 192
 */
export function presetConfig(name: string): DecoderConfig {
  const preset = definition(name);
  const tokenizer = presetTokenizer(preset.tokenizer);
  return {
    ...preset.network,
    vocabSize: tokenizer.vocabSize,
    eosTokenIds: tokenizer.eosTokenIds,
    padTokenId: tokenizer.padTokenId,
    ...(tokenizer.bosTokenId !== undefined ? { bosTokenId: tokenizer.bosTokenId } : {}),
  };
}

/** Where trained weights for a preset are looked for by default. */
export function presetWeightsDir(name: string): string {
  return path.join(PRESETS_DIR, 'weights', definition(name).name);
}

/**
 * Creates a built-in tiny agent. Weights come from, in order: `options.weightsDir` (a Hugging Face
 * folder, e.g. written by saveAgent after training), `models/presets/weights/<name>/` when it
 * exists and `options.random` is not set, else a random init from `options.seed` (default 0; the
 * same seed gives the same weights on every backend).
 *
 * @example
 * const planner = await createPresetAgent('tiny-planner-96', { seed: 7 });
 * const { hidden } = planner.model.forward({ inputIds }); // [batch, seq, 96]
 * planner.model.dispose();
 */
export async function createPresetAgent(
  name: string,
  options: { seed?: number; weightsDir?: string; random?: boolean } = {},
): Promise<Agent> {
  const preset = definition(name);
  const trained = options.weightsDir ?? (options.random ? undefined : presetWeightsDir(name));
  if (
    trained !== undefined &&
    (options.weightsDir !== undefined || fs.existsSync(path.join(trained, 'config.json')))
  ) {
    return loadAgent(trained, { name });
  }
  const config = presetConfig(name);
  const model = new DecoderLM(config, randomDecoderWeights(config, options.seed ?? 0));
  return { name: preset.name, model, tokenizer: presetTokenizer(preset.tokenizer) };
}
