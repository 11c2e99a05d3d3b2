/**
 * Reading a Hugging Face `config.json` into a DecoderConfig. The fields shared by the Llama family
 * are read here; each architecture file (llama.ts, qwen2.ts, qwen3.ts) supplies its own defaults
 * and the switches that differ (biases, q/k norm). Both the transformers 4.x layout (`rope_theta`
 * + `rope_scaling`) and the 5.x layout (`rope_parameters`) are accepted.
 */
import { ModelError } from './errors.ts';
import type { DecoderConfig } from './types.ts';

export type HFConfigJson = Record<string, unknown>;

/** The defaults an architecture's transformers config class uses for fields a file may omit. */
export interface ArchitectureDefaults {
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
}

/** A typed field reader that names the file and the field when a value is missing or wrong. */
export class ConfigReader {
  constructor(
    readonly json: HFConfigJson,
    readonly file: string,
  ) {}

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  int(field: string, fallback?: number): number {
    const value = this.json[field] ?? fallback;
    if (!Number.isInteger(value) || (value as number) < 0) {
      throw this.error(
        value === undefined
          ? 'is missing'
          : `must be a non-negative integer, got ${JSON.stringify(value)}`,
        field,
      );
    }
    return value as number;
  }

  number(field: string, fallback?: number): number {
    const value = this.json[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw this.error(
        value === undefined ? 'is missing' : `must be a number, got ${JSON.stringify(value)}`,
        field,
      );
    }
    return value;
  }

  bool(field: string, fallback: boolean): boolean {
    const value = this.json[field] ?? fallback;
    if (typeof value !== 'boolean')
      throw this.error(`must be true or false, got ${JSON.stringify(value)}`, field);
    return value;
  }

  /** An int or a list of ints (HF allows both for `eos_token_id`). */
  ids(field: string): number[] {
    const value = this.json[field];
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((id) => Number.isInteger(id) && id >= 0)) {
      throw this.error(
        `must be a token id or a list of token ids, got ${JSON.stringify(value)}`,
        field,
      );
    }
    return list as number[];
  }

  optionalInt(field: string): number | undefined {
    return this.has(field) ? this.int(field) : undefined;
  }

  error(
    message: string,
    field: string,
    code: 'INVALID_CONFIG' | 'UNSUPPORTED_FEATURE' = 'INVALID_CONFIG',
  ): ModelError {
    return new ModelError(code, `${message}`, { file: this.file, field });
  }
}

/**
 * The Llama-family fields every architecture shares, with the architecture's defaults.
 *
 * @example
 * const config = readDecoderConfig(new ConfigReader(json, 'config.json'), 'llama', LLAMA_DEFAULTS);
 */
export function readDecoderConfig(
  read: ConfigReader,
  architecture: DecoderConfig['architecture'],
  defaults: ArchitectureDefaults,
): DecoderConfig {
  const act = read.json['hidden_act'] ?? 'silu';
  if (act !== 'silu')
    throw read.error(
      `activation ${JSON.stringify(act)} is not supported (only silu)`,
      'hidden_act',
      'UNSUPPORTED_FEATURE',
    );
  if (read.json['use_sliding_window'] === true) {
    throw read.error(
      'sliding-window attention is not supported',
      'use_sliding_window',
      'UNSUPPORTED_FEATURE',
    );
  }
  if (read.json['mlp_bias'] === true) {
    throw read.error('MLP biases are not supported', 'mlp_bias', 'UNSUPPORTED_FEATURE');
  }
  if (read.has('pretraining_tp') && read.json['pretraining_tp'] !== 1) {
    throw read.error(
      'tensor-parallel pretraining slices (pretraining_tp > 1) are not supported',
      'pretraining_tp',
      'UNSUPPORTED_FEATURE',
    );
  }

  const hiddenSize = read.int('hidden_size');
  const numAttentionHeads = read.int('num_attention_heads');
  const numKeyValueHeads = read.int('num_key_value_heads', numAttentionHeads);
  if (numKeyValueHeads === 0 || numAttentionHeads % numKeyValueHeads !== 0) {
    throw read.error(
      `must divide num_attention_heads (${numAttentionHeads})`,
      'num_key_value_heads',
    );
  }
  const headDim = read.has('head_dim') ? read.int('head_dim') : hiddenSize / numAttentionHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw read.error(`head dimension ${headDim} must be an even integer`, 'head_dim');
  }
  const { ropeTheta, ropeScaling } = readRope(read, defaults.ropeTheta);
  const padTokenId = read.optionalInt('pad_token_id');
  const bosTokenId = read.optionalInt('bos_token_id');
  return {
    architecture,
    vocabSize: read.int('vocab_size'),
    hiddenSize,
    intermediateSize: read.int('intermediate_size'),
    numHiddenLayers: read.int('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: read.number('rms_norm_eps', defaults.rmsNormEps),
    ropeTheta,
    ...(ropeScaling ? { ropeScaling } : {}),
    maxPositionEmbeddings: read.int('max_position_embeddings', defaults.maxPositionEmbeddings),
    attentionBias: read.bool('attention_bias', defaults.attentionBias),
    qkNorm: false,
    tieWordEmbeddings: read.bool('tie_word_embeddings', defaults.tieWordEmbeddings),
    ...(bosTokenId !== undefined ? { bosTokenId } : {}),
    eosTokenIds: read.ids('eos_token_id'),
    ...(padTokenId !== undefined ? { padTokenId } : {}),
    initializerRange: read.number('initializer_range', 0.02),
  };
}

function readRope(
  read: ConfigReader,
  defaultTheta: number,
): Pick<DecoderConfig, 'ropeTheta' | 'ropeScaling'> {
  // transformers 5 folds theta and scaling into `rope_parameters`; 4.x has `rope_theta` + `rope_scaling`.
  const field = read.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const params = (read.json[field] ?? {}) as Record<string, unknown>;
  const ropeTheta =
    typeof params['rope_theta'] === 'number'
      ? params['rope_theta']
      : read.number('rope_theta', defaultTheta);
  const type = params['rope_type'] ?? params['type'] ?? 'default';
  if (type === 'default') return { ropeTheta };
  if (type !== 'llama3') {
    throw read.error(
      `rope type ${JSON.stringify(type)} is not supported (default or llama3)`,
      `${field}.rope_type`,
      'UNSUPPORTED_FEATURE',
    );
  }
  const sub = new ConfigReader(params, read.file);
  const number = (name: string) => {
    try {
      return sub.number(name);
    } catch {
      throw read.error('is missing or not a number', `${field}.${name}`);
    }
  };
  return {
    ropeTheta,
    ropeScaling: {
      type: 'llama3',
      factor: number('factor'),
      lowFreqFactor: number('low_freq_factor'),
      highFreqFactor: number('high_freq_factor'),
      originalMaxPositionEmbeddings: number('original_max_position_embeddings'),
    },
  };
}

/** Writes a DecoderConfig back as a transformers 4.x-style config.json (readable by 4.x and 5.x). */
export function toHFConfigJson(config: DecoderConfig): HFConfigJson {
  const architectures = {
    llama: 'LlamaForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
  };
  return {
    architectures: [architectures[config.architecture]],
    model_type: config.architecture,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: config.ropeScaling
      ? {
          rope_type: 'llama3',
          factor: config.ropeScaling.factor,
          low_freq_factor: config.ropeScaling.lowFreqFactor,
          high_freq_factor: config.ropeScaling.highFreqFactor,
          original_max_position_embeddings: config.ropeScaling.originalMaxPositionEmbeddings,
        }
      : null,
    max_position_embeddings: config.maxPositionEmbeddings,
    ...(config.architecture === 'qwen2' ? {} : { attention_bias: config.attentionBias }),
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    pad_token_id: config.padTokenId ?? null,
    initializer_range: config.initializerRange ?? 0.02,
    torch_dtype: 'float32',
  };
}
