/**
 * Small real agents for the operator tests: random-weight Llama-family decoders (models/) with
 * the preset tokenizers (two different ones: byte-level BPE with a ChatML template, and a
 * SentencePiece-style BPE with a Llama-2 template).
 */
import { fileURLToPath } from 'node:url';
import { DecoderLM, loadTokenizer, randomDecoderWeights } from '../../models/index.ts';
import type { Agent, DecoderConfig } from '../../models/types.ts';

export type PresetTokenizer = 'bytebpe-2k' | 'spbpe-2k';

const tokenizerDir = (name: PresetTokenizer) =>
  fileURLToPath(new URL(`../../models/presets/tokenizers/${name}`, import.meta.url));

export interface TestAgentOptions {
  name: string;
  hidden: number;
  tokenizer: PresetTokenizer;
  seed: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  architecture?: DecoderConfig['architecture'];
}

export async function testAgent(options: TestAgentOptions): Promise<Agent> {
  const tokenizer = await loadTokenizer(tokenizerDir(options.tokenizer));
  const heads = options.heads ?? 4;
  const config: DecoderConfig = {
    architecture: options.architecture ?? 'llama',
    vocabSize: tokenizer.vocabSize,
    hiddenSize: options.hidden,
    intermediateSize: 2 * options.hidden,
    numHiddenLayers: options.layers ?? 2,
    numAttentionHeads: heads,
    numKeyValueHeads: options.kvHeads ?? 2,
    headDim: options.hidden / heads,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 2048,
    attentionBias: options.architecture === 'qwen2',
    qkNorm: options.architecture === 'qwen3',
    tieWordEmbeddings: false,
    eosTokenIds: tokenizer.eosTokenIds,
    initializerRange: 0.5 / Math.sqrt(options.hidden),
  };
  const model = new DecoderLM(config, randomDecoderWeights(config, options.seed));
  return { name: options.name, model, tokenizer };
}
