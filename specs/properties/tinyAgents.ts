/**
 * Very small real agents for the property tests: one random decoder per IR agent (models/
 * DecoderLM, one layer, the agent's own width, a 48-token vocabulary, the three architectures in
 * turn) and a word-level hashing tokenizer, so a pattern's prompt is ~30 positions and a whole
 * topology unrolls in tens of milliseconds. The init is wider than the presets' 0.02 so that
 * outputs depend on inputs strongly enough for gradients to be measured in float32.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { TopologyIR } from '../../dsl/ir.ts';
import { DecoderLM, randomDecoderWeights } from '../../models/index.ts';
import type { Agent, ChatMessage, DecoderConfig, Tokenizer } from '../../models/types.ts';
import { initBackend } from '../../runtime/backend/index.ts';

export const TINY_VOCAB = 48;
const PAD = 0;
const EOS = 1;
const BOS = 2;
/** Ids words hash to: everything above the special tokens. */
const FIRST_WORD_ID = 3;

/** FNV-1a over UTF-16 code units: a stable word -> id map for any text. */
function wordId(word: string, vocab: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    hash ^= word.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return FIRST_WORD_ID + (hash % (vocab - FIRST_WORD_ID));
}

/**
 * A tokenizer that maps each whitespace-separated word to a hashed id; its chat template puts a
 * BOS word before the content (so no rendered prompt is empty, as with real templates).
 * @example wordTokenizer(48).encode('What is 2 + 2?') // five ids in [3, 48)
 */
export function wordTokenizer(vocab: number = TINY_VOCAB): Tokenizer {
  return {
    encode: (text: string) =>
      text
        .split(/\s+/)
        .filter((w) => w.length > 0)
        .map((w) => (w === '<bos>' ? BOS : wordId(w, vocab))),
    decode: (ids: number[]) => ids.map((id) => `w${id}`).join(' '),
    applyChatTemplate: (messages: ChatMessage[]) =>
      `<bos> ${messages.map((m) => m.content).join(' ')} `,
    vocabSize: vocab,
    eosTokenIds: [EOS],
    padTokenId: PAD,
  };
}

const ARCHITECTURES: DecoderConfig['architecture'][] = ['llama', 'qwen2', 'qwen3'];

/** The config of a one-layer decoder of width `hidden` (a multiple of 2). */
export function tinyConfig(hidden: number, index: number): DecoderConfig {
  const architecture = ARCHITECTURES[index % ARCHITECTURES.length]!;
  return {
    architecture,
    vocabSize: TINY_VOCAB,
    hiddenSize: hidden,
    intermediateSize: 2 * hidden,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: index % 2 === 0 ? 1 : 2,
    headDim: hidden / 2,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 1024,
    attentionBias: architecture === 'qwen2',
    qkNorm: architecture === 'qwen3',
    tieWordEmbeddings: false,
    eosTokenIds: [EOS],
    padTokenId: PAD,
    initializerRange: 1 / Math.sqrt(hidden),
  };
}

/**
 * One fresh random agent per IR agent, by IR name (heterogeneous: every agent has its own
 * network). The caller frees them with `disposeAgents`.
 * @example const agents = tinyAgentsFor(ir, 7); ... disposeAgents(agents);
 */
export function tinyAgentsFor(ir: TopologyIR, seed: number): Record<string, Agent> {
  const tokenizer = wordTokenizer();
  return Object.fromEntries(
    ir.agents.map((a, i) => {
      const config = tinyConfig(a.hiddenSize, i);
      const model = new DecoderLM(config, randomDecoderWeights(config, 1 + seed * 97 + i));
      return [a.name, { name: a.name, model, tokenizer }];
    }),
  );
}

export function disposeAgents(agents: Readonly<Record<string, Agent>>): void {
  for (const agent of Object.values(agents)) agent.model.dispose();
}

/**
 * Runs the file on the wasm backend (the one CI and users run) and checks that every test leaves
 * `tf.memory().numTensors` where it found it.
 */
export function useWasmAndCheckTensors(): void {
  let baseline = 0;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', strict: true, log: false });
    expect(tf.getBackend()).toBe('wasm');
  });
  beforeEach(() => {
    baseline = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
  });
}
