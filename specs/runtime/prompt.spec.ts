/**
 * Latent-mode prompts are tokenized as text mode tokenizes them: the tokens before a slot and
 * after it are exactly the tokens text mode has before and after the slot's text (so an agent
 * trained on text prompts sees the same tokens around its latents), on both preset tokenizers
 * (byte-level BPE; SentencePiece-style BPE that prepends a space to what it encodes alone).
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../models/index.ts';
import type { Tokenizer } from '../../models/types.ts';
import { slottedPrompt, textPromptIds } from '../../runtime/prompt.ts';

const tokenizers: Record<string, Tokenizer> = {};
beforeAll(async () => {
  for (const name of ['bytebpe-2k', 'spbpe-2k']) {
    tokenizers[name] = await loadTokenizer(
      fileURLToPath(new URL(`../../models/presets/tokenizers/${name}`, import.meta.url)),
    );
  }
});

/** One slot each, with the text around it as the bench agents and the README write it. */
const TEMPLATES: Array<[string, string]> = [
  ['plan {{question}} feedback {{feedback}}', 'feedback'],
  ['check {{question}} plan {{latent:planner}}', 'latent:planner'],
  ['Q: {{question}}\nNotes: {{latent:reader}}\nAnswer:', 'latent:reader'],
  ['solve {{question}} refined {{latent:critic}} now', 'latent:critic'],
];
const word = fc.stringMatching(/^[a-z0-9()*+=-]{1,6}$/);
const words = fc.array(word, { minLength: 1, maxLength: 6 }).map((w) => w.join(' '));
// A slot's text that ends in a letter or digit: punctuation can merge with the text after the
// slot into one token (")\n"), which no split at the slot can reproduce.
const said = fc
  .tuple(words, fc.stringMatching(/^[a-z0-9]{1,6}$/))
  .map(([w, last]) => `${w} ${last}`);

describe('slottedPrompt', () => {
  for (const name of ['bytebpe-2k', 'spbpe-2k']) {
    it(`has text mode's tokens before and after the slot (${name})`, () => {
      const seed = 20261125;
      console.log(`seed=${seed}`);
      fc.assert(
        fc.property(fc.constantFrom(...TEMPLATES), words, said, ([template, slot], q, slotText) => {
          const tokenizer = tokenizers[name]!;
          const pieces = slottedPrompt(tokenizer, template, q).pieces;
          const at = pieces.findIndex((p) => p.kind === 'slot');
          const ids = (ps: typeof pieces) => ps.flatMap((p) => (p.kind === 'text' ? p.ids : []));
          const before = ids(pieces.slice(0, at));
          const after = ids(pieces.slice(at + 1));
          const text = textPromptIds(tokenizer, template, q, { [slot]: slotText });
          expect(text.slice(0, before.length)).toEqual(before);
          expect(text.slice(text.length - after.length)).toEqual(after);
        }),
        { seed, numRuns: 80 },
      );
    });
  }

  it('leaves the space before a slot to the slot text, as text mode does (byte-level BPE)', () => {
    const tokenizer = tokenizers['bytebpe-2k']!;
    const template = 'check {{question}} plan {{latent:planner}}';
    const pieces = slottedPrompt(tokenizer, template, 'x').pieces;
    const before = pieces[0]!.kind === 'text' ? pieces[0]!.ids : [];
    const slotText = ' ele - ele';
    // Text mode = the piece before the slot, then the slot text with its leading space, then the rest.
    const textIds = textPromptIds(tokenizer, template, 'x', { 'latent:planner': slotText.trim() });
    const slotIds = tokenizer.encode(slotText, { addSpecialTokens: false });
    expect(textIds.slice(0, before.length)).toEqual(before);
    expect(textIds.slice(before.length, before.length + slotIds.length)).toEqual(slotIds);
  });
});
