/**
 * The token-translation fit of an outer link: pairs between two vocabularies (a SentencePiece-
 * style and a byte-level tokenizer), and a fit after which the receiver's nearest token to each
 * translated sender token is its pair.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../models/types.ts';
import { applyLink, createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import {
  fitOuterLinkToTranslation,
  tokenTranslationPairs,
} from '../../operators/links/translationInit.ts';
import { testAgent } from './agents.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

const seed = 17;
let sender: Agent;
let receiver: Agent;
beforeAll(async () => {
  console.log(`seed=${seed}`);
  sender = await testAgent({ name: 'sender', hidden: 32, tokenizer: 'spbpe-2k', seed });
  receiver = await testAgent({
    name: 'receiver',
    hidden: 48,
    tokenizer: 'bytebpe-2k',
    seed: seed + 1,
  });
});
afterAll(() => {
  sender.model.dispose();
  receiver.model.dispose();
});

// Words each tokenizer holds as one token (with its leading space), so the pairs are known by hand.
const WORDS = [
  'The',
  'True',
  'about',
  'add',
  'after',
  'agent',
  'all',
  'also',
  'and',
  'answer',
  'any',
];
// The one token of a word read after another word (and a space), or undefined.
const single = (agent: Agent, word: string) => {
  const encode = (text: string) => agent.tokenizer.encode(text, { addSpecialTokens: false });
  const anchor = encode('x');
  const ids = encode(`x ${word}`);
  const ok = ids.length === anchor.length + 1 && anchor.every((id, k) => ids[k] === id);
  return ok ? ids.at(-1) : undefined;
};

describe('tokenTranslationPairs', () => {
  it("pairs each sender word token with the receiver's token for the same word", () => {
    const words = WORDS.filter(
      (w) => single(sender, w) !== undefined && single(receiver, w) !== undefined,
    );
    expect(words.length).toBeGreaterThanOrEqual(5);
    const pairs = tokenTranslationPairs(sender, receiver, [words.join(' ')]);
    const got = new Map(pairs.sourceIds.map((id, k) => [id, pairs.targetIds[k]]));
    expect(got.size).toBe(words.length);
    for (const w of words) expect(got.get(single(sender, w)!)).toBe(single(receiver, w));
  });
});

describe('fitOuterLinkToTranslation', () => {
  it("maps each sender token's embedding nearest to its pair in the receiver's table", () => {
    const texts = ['plan the check and solve it', 'x = 1 ; y = 2 + 3 * 4', 'is in for of to'];
    const link = createRecursiveLink({ kind: 'outer', inDim: 32, outDim: 48, seed });
    const { loss, pairs } = fitOuterLinkToTranslation(link, {
      source: sender,
      target: receiver,
      texts,
      steps: 300,
    });
    console.log(`translation fit: ${pairs} pairs, final loss ${loss.toFixed(4)}`);
    const { sourceIds, targetIds } = tokenTranslationPairs(sender, receiver, texts);
    const nearest = tf.tidy(() => {
      const x = sender.model
        .embed(tf.tensor2d([sourceIds], undefined, 'int32'))
        .squeeze([0]) as tf.Tensor2D;
      const out = applyLink(link, x);
      const vocab = receiver.model.config.vocabSize;
      const table = receiver.model
        .embed(tf.range(0, vocab, 1, 'int32').reshape([1, vocab]) as tf.Tensor2D)
        .squeeze([0]) as tf.Tensor2D;
      const unit = (t: tf.Tensor) => t.div(t.norm('euclidean', -1, true));
      return tf
        .matMul(unit(out) as tf.Tensor2D, unit(table) as tf.Tensor2D, false, true)
        .argMax(-1)
        .arraySync() as number[];
    });
    const hits = nearest.filter((id, k) => id === targetIds[k]).length;
    console.log(`nearest receiver token is the pair for ${hits} of ${pairs}`);
    expect(hits / pairs).toBeGreaterThanOrEqual(0.9);
    link.dispose();
  });

  it('refuses a link of the wrong shape', () => {
    const link = createRecursiveLink({ kind: 'outer', inDim: 48, outDim: 32, seed });
    expect(() =>
      fitOuterLinkToTranslation(link, { source: sender, target: receiver, texts: ['plan'] }),
    ).toThrow(/outer link 32->48/);
    link.dispose();
  });
});
