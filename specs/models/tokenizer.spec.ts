import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../models/load.ts';
import { FIXTURE_MODELS, modelDir, readReference } from './fixtureModels.ts';

// Token ids, decoding and chat-template rendering against Hugging Face tokenizers / transformers
// (reference.json). Tokenizers run in plain JS, so there is nothing backend-specific here.
describe.each(FIXTURE_MODELS)('tokenizer of %s', (name) => {
  const reference = readReference(name);

  it('has at least 200 reference strings', () => {
    expect(reference.tokens.length).toBeGreaterThanOrEqual(200);
  });

  it('encodes every reference string to the same ids, with and without special tokens', async () => {
    const tokenizer = await loadTokenizer(modelDir(name));
    const mismatches = reference.tokens
      .map((t) => ({ text: t.text, expected: t.ids, actual: tokenizer.encode(t.text) }))
      .filter((m) => JSON.stringify(m.actual) !== JSON.stringify(m.expected));
    expect(mismatches).toEqual([]);
    const plain = reference.tokens
      .map((t) => ({
        text: t.text,
        expected: t.idsWithoutSpecial,
        actual: tokenizer.encode(t.text, { addSpecialTokens: false }),
      }))
      .filter((m) => JSON.stringify(m.actual) !== JSON.stringify(m.expected));
    expect(plain).toEqual([]);
  });

  it('decodes the reference ids to the same text', async () => {
    const tokenizer = await loadTokenizer(modelDir(name));
    const mismatches = reference.tokens
      .map((t) => ({
        ids: t.ids,
        expected: [t.decoded, t.decodedSkipSpecial],
        actual: [tokenizer.decode(t.ids), tokenizer.decode(t.ids, { skipSpecialTokens: true })],
      }))
      .filter((m) => JSON.stringify(m.actual) !== JSON.stringify(m.expected));
    expect(mismatches).toEqual([]);
  });

  it('renders the chat template as transformers does (and raises where it raises)', async () => {
    const tokenizer = await loadTokenizer(modelDir(name));
    for (const chat of reference.chats) {
      if (chat.error !== undefined) {
        expect(() => tokenizer.applyChatTemplate(chat.messages)).toThrowError(chat.error);
        continue;
      }
      expect(tokenizer.applyChatTemplate(chat.messages, { addGenerationPrompt: true })).toBe(
        chat.withGenerationPrompt,
      );
      expect(tokenizer.applyChatTemplate(chat.messages, { addGenerationPrompt: false })).toBe(
        chat.withoutGenerationPrompt,
      );
      expect(tokenizer.encode(chat.withGenerationPrompt!, { addSpecialTokens: false })).toEqual(
        chat.ids,
      );
    }
  });

  it('knows its special tokens and vocabulary size', async () => {
    const tokenizer = await loadTokenizer(modelDir(name));
    expect(tokenizer.vocabSize).toBe(reference.vocabSize);
    const eos = reference.specialTokens['eos']!;
    expect(tokenizer.eosTokenIds[0]).toBe(tokenizer.tokenToId(eos));
    const pad = reference.specialTokens['pad'];
    if (pad !== null && pad !== undefined)
      expect(tokenizer.padTokenId).toBe(tokenizer.tokenToId(pad));
    expect(tokenizer.decode([])).toBe('');
  });
});
