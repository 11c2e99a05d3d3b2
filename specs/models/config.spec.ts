import { describe, expect, it } from 'vitest';
import { parseDecoderConfig } from '../../models/architectures.ts';
import { ropeInverseFrequencies } from '../../models/rope.ts';

// Published config.json files (transformers 4.x layout: rope_theta + rope_scaling), copied from
// the Hugging Face Hub model cards; the expected fields are read off them by hand.
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 128256,
};

const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('parseDecoderConfig', () => {
  it('reads Qwen2.5-0.5B: q/k/v bias, no o bias, tied, GQA 14/2, head_dim 64', () => {
    const c = parseDecoderConfig(QWEN25_05B);
    expect(c).toMatchObject({
      architecture: 'qwen2',
      vocabSize: 151936,
      hiddenSize: 896,
      numAttentionHeads: 14,
      numKeyValueHeads: 2,
      headDim: 64,
      ropeTheta: 1000000,
      attentionBias: true,
      outputBias: false,
      qkNorm: false,
      tieWordEmbeddings: true,
      eosTokenIds: [151645],
      bosTokenId: 151643,
    });
    expect(c.ropeScaling).toBeUndefined();
  });

  it('reads Llama-3.2-1B with its llama3 rope scaling', () => {
    const c = parseDecoderConfig(LLAMA32_1B);
    expect(c).toMatchObject({
      architecture: 'llama',
      hiddenSize: 2048,
      headDim: 64,
      numKeyValueHeads: 8,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      attentionBias: false,
      outputBias: false,
      tieWordEmbeddings: true,
      ropeScaling: {
        type: 'llama3',
        factor: 32,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
    });
  });

  it('reads Qwen3-0.6B: q/k norm and an explicit head_dim (128, not 1024 / 16)', () => {
    const c = parseDecoderConfig(QWEN3_06B);
    expect(c).toMatchObject({
      architecture: 'qwen3',
      headDim: 128,
      qkNorm: true,
      attentionBias: false,
    });
  });

  it('reads the transformers 5 layout (rope_parameters)', () => {
    const { rope_theta: _t, rope_scaling, ...rest } = LLAMA32_1B;
    const c = parseDecoderConfig({
      ...rest,
      rope_parameters: { ...rope_scaling, rope_theta: 500000 },
    });
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling?.factor).toBe(32);
  });

  it('refuses what it cannot run, naming the file and field', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ ...QWEN25_05B, model_type: 'gpt2' }, 'UNSUPPORTED_ARCHITECTURE', 'model_type'],
      [{ ...QWEN25_05B, use_sliding_window: true }, 'UNSUPPORTED_FEATURE', 'use_sliding_window'],
      [{ ...QWEN25_05B, hidden_act: 'gelu' }, 'UNSUPPORTED_FEATURE', 'hidden_act'],
      [
        { ...LLAMA32_1B, rope_scaling: { rope_type: 'yarn', factor: 4 } },
        'UNSUPPORTED_FEATURE',
        'rope_scaling.rope_type',
      ],
      [
        { ...LLAMA32_1B, rope_scaling: { rope_type: 'llama3', factor: 4 } },
        'INVALID_CONFIG',
        'rope_scaling.low_freq_factor',
      ],
      [{ ...QWEN25_05B, num_key_value_heads: 3 }, 'INVALID_CONFIG', 'num_key_value_heads'],
      [{ ...QWEN25_05B, hidden_size: undefined }, 'INVALID_CONFIG', 'hidden_size'],
      [{ ...QWEN25_05B, vocab_size: '10' }, 'INVALID_CONFIG', 'vocab_size'],
    ];
    for (const [json, code, field] of cases) {
      expect(() => parseDecoderConfig(json, 'dir/config.json'), `${code} ${field}`).toThrowError(
        expect.objectContaining({ code, field, file: 'dir/config.json' }),
      );
    }
  });
});

describe('ropeInverseFrequencies', () => {
  it('is theta^(-2i/d) by default', () => {
    expect([...ropeInverseFrequencies({ ropeTheta: 10000, headDim: 4 })]).toEqual([
      1,
      Math.fround(0.01),
    ]);
  });

  it('applies Llama-3 scaling: high band kept, low band / factor, middle band blended', () => {
    const scaling = {
      type: 'llama3' as const,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 64,
    };
    // wavelength 2π/1 ≈ 6.3 < 64/4: kept; wavelength 2π/0.01 ≈ 628 > 64/1: divided by 8.
    expect([
      ...ropeInverseFrequencies({ ropeTheta: 10000, headDim: 4, ropeScaling: scaling }),
    ]).toEqual([1, Math.fround(Math.fround(0.01) / 8)]);
    // Frequency f with wavelength 32 (between 16 and 64): smooth = (64/32 - 1)/(4 - 1) = 1/3, so
    // (1 - 1/3)·f/8 + (1/3)·f = f·10/24.
    const f = (2 * Math.PI) / 32;
    const [, blended] = ropeInverseFrequencies({
      ropeTheta: 1 / (f * f),
      headDim: 4,
      ropeScaling: scaling,
    });
    expect(blended! / ((f * 10) / 24)).toBeCloseTo(1, 6);
  });
});
