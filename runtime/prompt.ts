/**
 * An agent's input for one request, from its IR prompt: `{{question}}` becomes the request text,
 * the chat template is rendered around it, and the latent slots (`{{latent:S}}`, `{{feedback}}`)
 * become the places where vectors are spliced (latent mode) or other agents' texts are written
 * (text mode). Slots are marked with control-character sentinels while the template renders, so
 * a question can never forge one (the operators' `<<NAME_SLOT>>` placeholders could be typed).
 */
import { promptSegments } from '../dsl/slots.ts';
import type { Tokenizer } from '../models/types.ts';
import type { PromptPiece, SlottedPrompt } from '../operators/prompt/splice.ts';
import { RuntimeError } from './errors.ts';

const SENTINEL = '\u0001';

/** The prompt as one user message, slots marked; the distinct slots in order. */
function render(
  tokenizer: Tokenizer,
  template: string,
  question: string,
  fill: (slot: string) => string,
): string {
  if (question.includes(SENTINEL)) {
    throw new RuntimeError('INVALID_REQUEST', 'the input contains the control character U+0001');
  }
  const content = promptSegments(template)
    .map((segment) => {
      if ('text' in segment) return segment.text;
      return segment.slot === 'question' ? question : fill(segment.slot);
    })
    .join('');
  return tokenizer.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true });
}

const ANCHOR = 'x';

/**
 * Text that follows other text (a slot's), tokenized as it would be there: after an anchor
 * word, whose tokens are then dropped. A SentencePiece-style tokenizer would otherwise prepend a
 * space to the piece as if it started the prompt. Falls back to encoding it alone when the piece
 * merges with the anchor.
 */
function encodeContinuation(tokenizer: Tokenizer, text: string): number[] {
  const anchor = tokenizer.encode(ANCHOR, { addSpecialTokens: false });
  const ids = tokenizer.encode(ANCHOR + text, { addSpecialTokens: false });
  return anchor.every((id, k) => ids[k] === id)
    ? ids.slice(anchor.length)
    : tokenizer.encode(text, { addSpecialTokens: false });
}

/**
 * The rendered prompt cut at its latent slots, text pieces tokenized with the agent's own
 * tokenizer (no special tokens added: the template has them). The pieces around a slot are
 * tokenized as text mode would tokenize them with the slot's text in place: the space before
 * a slot belongs to the slot's first word, and the text after a slot continues it. (Exact
 * unless the tokenizer would merge the slot text's last characters with what follows, as in
 * ")\n": there is no slot text to merge with.) Slot pieces are named by the IR's
 * slot names (`latent:planner`, `feedback`), which is what `spliceLatents` fills.
 * @example
 * slottedPrompt(tok, 'Q: {{question}} Plan: {{latent:planner}}', '2+2?').pieces
 * // [{ kind: 'text', ids: [...] }, { kind: 'slot', slot: 'latent:planner' }, { kind: 'text', ids: [...] }]
 */
export function slottedPrompt(
  tokenizer: Tokenizer,
  template: string,
  question: string,
): SlottedPrompt {
  const slots: string[] = [];
  const rendered = render(tokenizer, template, question, (slot) => {
    if (!slots.includes(slot)) slots.push(slot);
    return `${SENTINEL}${slots.indexOf(slot)}${SENTINEL}`;
  });
  const pieces: PromptPiece[] = [];
  let textTokens = 0;
  const parts = rendered.split(SENTINEL);
  parts.forEach((raw, i) => {
    if (i % 2 === 1) {
      pieces.push({ kind: 'slot', slot: slots[Number(raw)]! });
      return;
    }
    // Text mode writes "plan ele - ele": the space before a slot goes with its first word.
    const part = i < parts.length - 1 ? raw.replace(/ $/, '') : raw;
    if (part.length === 0) return;
    const ids =
      i > 0
        ? encodeContinuation(tokenizer, part)
        : tokenizer.encode(part, { addSpecialTokens: false });
    textTokens += ids.length;
    if (ids.length > 0) pieces.push({ kind: 'text', ids });
  });
  return { pieces, textTokens };
}

/**
 * The rendered prompt with every latent slot replaced by text (the Recursive-TextMAS baseline),
 * tokenized whole with the agent's tokenizer. A slot without text reads as empty.
 * @example textPromptIds(tok, 'Q: {{question}} Plan: {{latent:planner}}', '2+2?', { 'latent:planner': 'add' })
 */
export function textPromptIds(
  tokenizer: Tokenizer,
  template: string,
  question: string,
  texts: Readonly<Record<string, string>>,
): number[] {
  const rendered = render(tokenizer, template, question, (slot) => texts[slot] ?? '');
  return tokenizer.encode(rendered, { addSpecialTokens: false });
}
