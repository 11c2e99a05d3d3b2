/**
 * Minimal stand-ins for the model contract, for tests of code that only needs an agent's
 * embedding table, LM head and tokenizer (the ridge initialisations). Rollout and decoding
 * tests use real models from models/.
 */
import * as tf from '@tensorflow/tfjs';
import type {
  Agent,
  CausalLM,
  ChatMessage,
  DecoderConfig,
  ForwardInput,
  ForwardOutput,
  Tokenizer,
} from '../../models/types.ts';

export function tinyConfig(vocabSize: number, hiddenSize: number): DecoderConfig {
  return {
    architecture: 'llama',
    vocabSize,
    hiddenSize,
    intermediateSize: 2 * hiddenSize,
    numHiddenLayers: 1,
    numAttentionHeads: 1,
    numKeyValueHeads: 1,
    headDim: hiddenSize,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    maxPositionEmbeddings: 128,
    attentionBias: false,
    qkNorm: false,
    tieWordEmbeddings: false,
    eosTokenIds: [0],
  };
}

/**
 * A "model" whose embedding table and LM head are given [V, d] arrays; forward returns the
 * input embeddings as hidden states (enough for hiddenStateStd).
 */
export function tableModel(table: number[][], head: number[][]): CausalLM {
  const vocab = table.length;
  const d = table[0]!.length;
  const tableT = tf.tensor2d(table);
  const headT = tf.tensor2d(head);
  const embed = (ids: tf.Tensor2D) =>
    tf.tidy(() => tf.gather(tableT, ids.flatten()).reshape([...ids.shape, d]) as tf.Tensor3D);
  return {
    config: tinyConfig(vocab, d),
    embed,
    forward(input: ForwardInput): ForwardOutput {
      const hidden = input.inputsEmbeds ? input.inputsEmbeds.clone() : embed(input.inputIds!);
      return { hidden };
    },
    lmHead: (h: tf.Tensor) => tf.tidy(() => tf.matMul(h.reshape([-1, d]), headT, false, true)),
    newKVCache: () => {
      throw new Error('not used');
    },
    generate: () => {
      throw new Error('not used');
    },
    weights: new Map(),
    dispose() {
      tableT.dispose();
      headT.dispose();
    },
  };
}

/** Character-level or word-level tokenizers over a fixed list of pieces. */
export function pieceTokenizer(pieces: string[], mode: 'chars' | 'words'): Tokenizer {
  const index = new Map(pieces.map((p, i) => [p, i]));
  return {
    encode(text: string) {
      const parts = mode === 'chars' ? [...text.replace(/\s/g, '')] : text.trim().split(/\s+/);
      return parts
        .filter((p) => p.length > 0)
        .map((p) => {
          const id = index.get(p);
          if (id === undefined) throw new Error(`no piece for '${p}'`);
          return id;
        });
    },
    decode: (ids: number[]) => ids.map((i) => pieces[i]).join(mode === 'chars' ? '' : ' '),
    applyChatTemplate: (messages: ChatMessage[]) =>
      messages.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant: ',
    vocabSize: pieces.length,
    eosTokenIds: [0],
    padTokenId: 0,
  };
}

export function fakeAgent(name: string, model: CausalLM, tokenizer: Tokenizer): Agent {
  return { name, model, tokenizer };
}
