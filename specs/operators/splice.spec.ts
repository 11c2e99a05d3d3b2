import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../models/types.ts';
import type { OperatorError } from '../../operators/errors.ts';
import {
  FEEDBACK_SLOT,
  fillTextSlots,
  PLANNER_SLOT,
  padLeftEmbeds,
  padLeftIds,
  spliceLatents,
  splitPromptAtSlots,
} from '../../operators/prompt/splice.ts';
import { testAgent } from './agents.ts';
import { maxAbsDiff } from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

let chatml: Agent;
let llama2: Agent;
beforeAll(async () => {
  chatml = await testAgent({ name: 'a', hidden: 32, tokenizer: 'bytebpe-2k', seed: 1 });
  llama2 = await testAgent({ name: 'b', hidden: 48, tokenizer: 'spbpe-2k', seed: 2 });
});
afterAll(() => {
  chatml.model.dispose();
  llama2.model.dispose();
});

const messages = [
  { role: 'system' as const, content: 'You are the critic.' },
  { role: 'user' as const, content: `Initial Plan: ${PLANNER_SLOT}\nRefine it.` },
];

function rowsOf(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

describe('splitting a chat prompt at its latent slots', () => {
  for (const which of ['chatml', 'llama2'] as const) {
    it(`${which}: prefix and suffix are the rendered text around the placeholder, tokenized apart`, () => {
      const agent = which === 'chatml' ? chatml : llama2;
      const rendered = agent.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      const at = rendered.indexOf(PLANNER_SLOT);
      const prefix = agent.tokenizer.encode(rendered.slice(0, at), { addSpecialTokens: false });
      const suffix = agent.tokenizer.encode(rendered.slice(at + PLANNER_SLOT.length), {
        addSpecialTokens: false,
      });
      const p = splitPromptAtSlots(agent.tokenizer, messages);
      expect(p.pieces).toEqual([
        { kind: 'text', ids: prefix },
        { kind: 'slot', slot: PLANNER_SLOT },
        { kind: 'text', ids: suffix },
      ]);
      expect(p.textTokens).toBe(prefix.length + suffix.length);
    });
  }

  it("does not take a Llama-2 template's <<SYS>> for a slot", () => {
    const p = splitPromptAtSlots(llama2.tokenizer, [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'no slots here' },
    ]);
    expect(p.pieces.filter((x) => x.kind === 'slot')).toHaveLength(0);
  });
});

describe('splicing latents: prefix ⊕ latents ⊕ suffix', () => {
  it("embeds text with the receiver's own table and puts the latents in between", () => {
    const p = splitPromptAtSlots(llama2.tokenizer, messages);
    const [prefix, , suffix] = p.pieces as [{ ids: number[] }, unknown, { ids: number[] }];
    const latents = tf.randomNormal([3, 48], 0, 1, 'float32', 4) as tf.Tensor2D;
    const out = spliceLatents(llama2.model, p, { [PLANNER_SLOT]: latents });
    const [got, pre, lat, suf] = tf.tidy(() => [
      rowsOf(out),
      rowsOf(llama2.model.embed(tf.tensor2d([prefix.ids], undefined, 'int32')).squeeze([0])),
      rowsOf(latents),
      rowsOf(llama2.model.embed(tf.tensor2d([suffix.ids], undefined, 'int32')).squeeze([0])),
    ]);
    out.dispose();
    latents.dispose();
    expect(got!.length).toBe(prefix.ids.length + 3 + suffix.ids.length);
    expect(maxAbsDiff(got!.flat(), [...pre!, ...lat!, ...suf!].flat())).toBe(0);
  });

  it('reports unfilled slots, latents without a slot and wrong widths with typed errors', () => {
    const p = splitPromptAtSlots(llama2.tokenizer, messages);
    const code = (latents: Record<string, tf.Tensor2D>) => {
      try {
        spliceLatents(llama2.model, p, latents).dispose();
        return 'none';
      } catch (e) {
        return (e as OperatorError).code;
      } finally {
        for (const t of Object.values(latents)) t.dispose();
      }
    };
    expect(code({})).toBe('SLOT_UNFILLED');
    expect(code({ [PLANNER_SLOT]: tf.zeros([2, 32]) })).toBe('LATENT_DIM_MISMATCH');
    expect(code({ [PLANNER_SLOT]: tf.zeros([2, 48]), [FEEDBACK_SLOT]: tf.zeros([2, 48]) })).toBe(
      'SLOT_MISSING',
    );
  });

  it('fills text slots for the text baseline and leaves the others', () => {
    const filled = fillTextSlots(
      [{ role: 'user', content: `A ${PLANNER_SLOT} B ${FEEDBACK_SLOT}` }],
      { [PLANNER_SLOT]: 'plan text' },
    );
    expect(filled[0]!.content).toBe(`A plan text B ${FEEDBACK_SLOT}`);
  });
});

describe('left padding', () => {
  it('pads embeddings with zero rows and mask 0 on the left', () => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const b = tf.tensor2d([[7, 8]]);
    const { inputsEmbeds, attentionMask, lengths } = padLeftEmbeds([a, b]);
    expect(inputsEmbeds.arraySync()).toEqual([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [
        [0, 0],
        [0, 0],
        [7, 8],
      ],
    ]);
    expect(attentionMask.arraySync()).toEqual([
      [1, 1, 1],
      [0, 0, 1],
    ]);
    expect(lengths).toEqual([3, 1]);
    tf.dispose([a, b, inputsEmbeds, attentionMask]);
  });

  it('pads ids with the pad id', () => {
    const { inputIds, attentionMask } = padLeftIds([[5, 6], [7]], 9);
    expect(inputIds.arraySync()).toEqual([
      [5, 6],
      [9, 7],
    ]);
    expect(attentionMask.arraySync()).toEqual([
      [1, 1],
      [0, 1],
    ]);
    tf.dispose([inputIds, attentionMask]);
  });
});
