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

/**
 * The rendered prompt cut at its latent slots, text pieces tokenized with the agent's own
 * tokenizer (no special tokens added: the template has them). Slot pieces are named by the IR's
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
  rendered.split(SENTINEL).forEach((part, i) => {
    if (i % 2 === 1) {
      pieces.push({ kind: 'slot', slot: slots[Number(part)]! });
      return;
    }
    if (part.length === 0) return;
    const ids = tokenizer.encode(part, { addSpecialTokens: false });
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
