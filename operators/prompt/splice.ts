/**
 * Building an agent's input from a chat prompt with latent slots, as the official inference code
 * does (inference_mas.py, split_prompt_ids_by_slots): render the chat template with the slot
 * placeholders in place, split the rendered text at the placeholders, tokenize each text segment
 * with the receiver's own tokenizer (no added special tokens), embed it with the receiver's own
 * table, and concatenate prefix ⊕ latents ⊕ suffix as `inputsEmbeds`. Batches are left-padded
 * with zero vectors and a 0 mask, like its pad_left_embeds.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, ChatMessage, Tokenizer } from '../../models/types.ts';
import { OperatorError } from '../errors.ts';

/** The official placeholders (prompts.py). Any `<<NAME_SLOT>>` works as a slot. */
export const PLANNER_SLOT = '<<LATENT_PLANNER_SLOT>>';
export const REFINED_SLOT = '<<LATENT_REFINED_SLOT>>';
export const FEEDBACK_SLOT = '<<LATENT_FEEDBACK_SLOT>>';

/** What a slot placeholder looks like: `<<NAME_SLOT>>` (so `<<SYS>>` of Llama-2 templates is not one). */
export const SLOT_PATTERN = /<<[A-Z0-9_]+_SLOT>>/g;

export type PromptPiece = { kind: 'text'; ids: number[] } | { kind: 'slot'; slot: string };

export interface SlottedPrompt {
  pieces: PromptPiece[];
  /** Text tokens over all text pieces. */
  textTokens: number;
}

/**
 * Renders `messages` with the chat template (generation prompt appended) and splits the text at
 * every slot placeholder found in it, tokenizing the text between them.
 *
 * @example
 * const p = splitPromptAtSlots(tok, [{ role: 'user', content: `Plan: ${PLANNER_SLOT} Go.` }]);
 * // p.pieces: [{ kind: 'text', ids: [...] }, { kind: 'slot', slot: PLANNER_SLOT }, { kind: 'text', ... }]
 */
export function splitPromptAtSlots(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
): SlottedPrompt {
  const rendered = tokenizer.applyChatTemplate([...messages], { addGenerationPrompt: true });
  const pieces: PromptPiece[] = [];
  let textTokens = 0;
  const pushText = (text: string) => {
    if (text.length === 0) return;
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    textTokens += ids.length;
    pieces.push({ kind: 'text', ids });
  };
  let cursor = 0;
  for (const match of rendered.matchAll(SLOT_PATTERN)) {
    pushText(rendered.slice(cursor, match.index));
    pieces.push({ kind: 'slot', slot: match[0] });
    cursor = match.index + match[0].length;
  }
  pushText(rendered.slice(cursor));
  return { pieces, textTokens };
}

/**
 * Replaces the slot placeholders that have text by that text (the Recursive-TextMAS baseline:
 * the same prompts, with the previous agent's text where the latents would go). Placeholders
 * without text stay, for latents.
 *
 * @example fillTextSlots(messages, { [PLANNER_SLOT]: 'First, factor the polynomial.' })
 */
export function fillTextSlots(
  messages: readonly ChatMessage[],
  texts: Readonly<Record<string, string>> = {},
): ChatMessage[] {
  return messages.map((m) => ({
    ...m,
    content: m.content.replace(SLOT_PATTERN, (slot) => texts[slot] ?? slot),
  }));
}

/**
 * prefix ⊕ latents ⊕ suffix: [t, d] input embeddings for one request (caller owns). Every slot
 * in the prompt needs a latent [m, d] in the model's input space; every latent given must have
 * a slot.
 *
 * @example const embeds = spliceLatents(model, prompt, { [PLANNER_SLOT]: latents }); // [t, d]
 */
export function spliceLatents(
  model: CausalLM,
  prompt: SlottedPrompt,
  latents: Readonly<Record<string, tf.Tensor2D>> = {},
): tf.Tensor2D {
  const d = model.config.hiddenSize;
  const slotsInPrompt = new Set(prompt.pieces.flatMap((p) => (p.kind === 'slot' ? [p.slot] : [])));
  for (const slot of Object.keys(latents)) {
    if (!slotsInPrompt.has(slot)) {
      throw new OperatorError(
        'SLOT_MISSING',
        `the prompt has no placeholder ${slot} for the latents given`,
      );
    }
  }
  for (const slot of slotsInPrompt) {
    const latent = latents[slot];
    if (latent === undefined) {
      throw new OperatorError('SLOT_UNFILLED', `no latents for slot ${slot}`);
    }
    if (latent.rank !== 2 || latent.shape[1] !== d) {
      throw new OperatorError(
        'LATENT_DIM_MISMATCH',
        `latents for ${slot} are [${latent.shape}], the receiver's input embeddings are [m, ${d}]`,
      );
    }
  }
  return tf.tidy(() => {
    const allIds = prompt.pieces.flatMap((p) => (p.kind === 'text' ? p.ids : []));
    // One embedding lookup for every text piece, then cut back into pieces.
    const table =
      allIds.length > 0
        ? (model
            .embed(tf.tensor2d([allIds], [1, allIds.length], 'int32'))
            .reshape([allIds.length, d]) as tf.Tensor2D)
        : (tf.zeros([0, d]) as tf.Tensor2D);
    const parts: tf.Tensor2D[] = [];
    let offset = 0;
    for (const piece of prompt.pieces) {
      if (piece.kind === 'text') {
        parts.push(table.slice([offset, 0], [piece.ids.length, d]));
        offset += piece.ids.length;
      } else {
        parts.push(latents[piece.slot]!);
      }
    }
    if (parts.length === 0) {
      throw new OperatorError('INVALID_ARGUMENT', 'the rendered prompt is empty');
    }
    return tf.concat(parts, 0) as tf.Tensor2D;
  });
}

/**
 * Left-pads sequences of embeddings to one batch: zero vectors and mask 0 on the left.
 * Borrowed inputs; the caller owns the results.
 *
 * @example const { inputsEmbeds, attentionMask } = padLeftEmbeds([a, b]); // [2, T, d], [2, T]
 */
export function padLeftEmbeds(sequences: readonly tf.Tensor2D[]): {
  inputsEmbeds: tf.Tensor3D;
  attentionMask: tf.Tensor2D;
  lengths: number[];
} {
  if (sequences.length === 0) throw new OperatorError('BATCH_EMPTY', 'padLeftEmbeds: no sequences');
  const d = sequences[0]!.shape[1];
  const lengths = sequences.map((s) => s.shape[0]);
  const longest = Math.max(...lengths);
  if (longest === 0)
    throw new OperatorError('INVALID_ARGUMENT', 'padLeftEmbeds: every sequence is empty');
  const mask = new Float32Array(sequences.length * longest);
  lengths.forEach((n, r) => {
    mask.fill(1, r * longest + longest - n, (r + 1) * longest);
  });
  const inputsEmbeds = tf.tidy(
    () =>
      tf.stack(
        sequences.map((s) =>
          s.shape[0] === longest ? s : tf.concat([tf.zeros([longest - s.shape[0], d]), s], 0),
        ),
      ) as tf.Tensor3D,
  );
  return { inputsEmbeds, attentionMask: tf.tensor2d(mask, [sequences.length, longest]), lengths };
}

/**
 * Left-pads token id sequences with `padId`: [batch, T] int32 ids and mask.
 *
 * @example padLeftIds([[5, 6], [7]], 0) // ids [[5, 6], [0, 7]], mask [[1, 1], [0, 1]]
 */
export function padLeftIds(
  sequences: readonly number[][],
  padId: number,
): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  if (sequences.length === 0) throw new OperatorError('BATCH_EMPTY', 'padLeftIds: no sequences');
  const longest = Math.max(...sequences.map((s) => s.length));
  if (longest === 0)
    throw new OperatorError('INVALID_ARGUMENT', 'padLeftIds: every sequence is empty');
  const ids = new Int32Array(sequences.length * longest).fill(padId);
  const mask = new Float32Array(sequences.length * longest);
  sequences.forEach((s, r) => {
    const start = r * longest + longest - s.length;
    ids.set(s, start);
    mask.fill(1, start, (r + 1) * longest);
  });
  return {
    inputIds: tf.tensor2d(ids, [sequences.length, longest], 'int32'),
    attentionMask: tf.tensor2d(mask, [sequences.length, longest]),
  };
}
