/**
 * Prompt slots: `{{question}}` (the request text), `{{feedback}}` (latents fed back from the
 * previous round) and `{{latent:<agent>}}` (latents of another agent in this round). The same
 * grammar is parsed twice: by the type system for literal prompts (`SlotsOf`) and at run time for
 * prompts that arrive as plain strings (`promptSegments`).
 */

/** A slot a prompt can contain. */
export type Slot = 'question' | 'feedback' | `latent:${string}`;

/** A piece of a prompt: literal text, or a slot to fill. */
export type PromptSegment = { text: string } | { slot: string };

const SLOT = /\{\{([^{}]*)\}\}/g;
const LATENT_SLOT = /^latent:[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Splits a prompt into text and slots, in order. Unknown slot names are returned as they are
 * (`validate` reports them); text pieces are never empty.
 * @example promptSegments('Plan: {{latent:planner}}.') // [{ text: 'Plan: ' }, { slot: 'latent:planner' }, { text: '.' }]
 */
export function promptSegments(prompt: string): PromptSegment[] {
  const segments: PromptSegment[] = [];
  let last = 0;
  for (const match of prompt.matchAll(SLOT)) {
    if (match.index > last) segments.push({ text: prompt.slice(last, match.index) });
    segments.push({ slot: (match[1] ?? '').trim() });
    last = match.index + match[0].length;
  }
  if (last < prompt.length) segments.push({ text: prompt.slice(last) });
  return segments;
}

/**
 * The slots a prompt contains, in order of first appearance.
 * @example promptSlots('{{question}} {{feedback}} {{question}}') // ['question', 'feedback']
 */
export function promptSlots(prompt: string): string[] {
  const slots: string[] = [];
  for (const segment of promptSegments(prompt)) {
    if ('slot' in segment && !slots.includes(segment.slot)) slots.push(segment.slot);
  }
  return slots;
}

/** True for the slot names of the grammar. */
export function isKnownSlot(slot: string): slot is Slot {
  return slot === 'question' || slot === 'feedback' || LATENT_SLOT.test(slot);
}

/** True when a prompt has a `{{` or `}}` that does not belong to a slot. */
export function hasMalformedSlot(prompt: string): boolean {
  const rest = prompt.replace(SLOT, '');
  return rest.includes('{{') || rest.includes('}}');
}

/**
 * Type-level slot parser: the union of slot names of a literal prompt; `never` for a prompt
 * typed as plain `string` (checked at run time by `validate` instead).
 * @example type S = SlotsOf<'Plan {{latent:planner}} {{feedback}}'> // 'latent:planner' | 'feedback'
 */
export type SlotsOf<P extends string> = string extends P ? never : ParseSlots<P>;

type ParseSlots<P extends string> = P extends `${string}{{${infer Slot}}}${infer Rest}`
  ? Slot | ParseSlots<Rest>
  : never;

/** Agents whose latents a literal prompt asks for through `{{latent:<agent>}}`. */
export type LatentSourcesOf<S extends string> = S extends `latent:${infer Agent}` ? Agent : never;
