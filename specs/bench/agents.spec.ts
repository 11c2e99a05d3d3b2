import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeTaggedText, roleTextsOf } from '../../bench/agents/roleTexts.ts';
import { MIXTURE_BENCH_PROMPTS, SEQUENTIAL_BENCH_PROMPTS } from '../../bench/agents/topologies.ts';
import { lengthBuckets, targetBatch, targetCrossEntropy } from '../../bench/agents/trainNetwork.ts';
import { buildTaskSplits } from '../../bench/tasks/index.ts';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { slottedPrompt, textPromptIds } from '../../runtime/prompt.ts';
import { encodeRoleText, roleTextBatch } from '../../train/inner.ts';
import { roleTextCrossEntropy } from '../../train/sft.ts';

let agent: Agent;
let baseline = 0;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', strict: true, log: false });
  agent = await createPresetAgent('tiny-critic-128', { seed: 4, random: true });
});
afterAll(() => agent.model.dispose());
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
});

const { train } = buildTaskSplits({ sizes: { train: 6, validation: 1, test: 1 } });

describe('role texts', () => {
  it('render exactly the prompts the runtime renders (text mode, and latent mode with empty slots)', () => {
    const record = train.find((r) => r.family === 'arith')!;
    const seq = record.roles!.sequential!;
    const mix = record.roles!.mixture!;
    const texts = roleTextsOf(record);
    // [role, template, text-mode slot texts, or 'latent' for the latent-mode round-1 prompt]
    const expected: Array<[string, string, Record<string, string> | 'latent']> = [
      ['planner', SEQUENTIAL_BENCH_PROMPTS.planner, {}],
      ['planner', SEQUENTIAL_BENCH_PROMPTS.planner, 'latent'],
      ['planner', SEQUENTIAL_BENCH_PROMPTS.planner, { feedback: seq.solver! }],
      ['critic', SEQUENTIAL_BENCH_PROMPTS.critic, { 'latent:planner': seq.planner! }],
      ['solver', SEQUENTIAL_BENCH_PROMPTS.solver, { 'latent:critic': seq.critic! }],
      ['left', MIXTURE_BENCH_PROMPTS.left, {}],
      ['left', MIXTURE_BENCH_PROMPTS.left, 'latent'],
      ['left', MIXTURE_BENCH_PROMPTS.left, { feedback: mix.summarizer! }],
      ['right', MIXTURE_BENCH_PROMPTS.right, {}],
      ['right', MIXTURE_BENCH_PROMPTS.right, 'latent'],
      ['right', MIXTURE_BENCH_PROMPTS.right, { feedback: mix.summarizer! }],
      [
        'summarizer',
        MIXTURE_BENCH_PROMPTS.summarizer,
        { 'latent:left': mix.left!, 'latent:right': mix.right! },
      ],
    ];
    expect(texts.map((t) => t.role)).toEqual(expected.map(([role]) => role));
    texts.forEach((text, i) => {
      const [, template, slots] = expected[i]!;
      const runtimeIds =
        slots === 'latent'
          ? slottedPrompt(agent.tokenizer, template, record.question).pieces.flatMap((p) =>
              p.kind === 'text' ? p.ids : [],
            )
          : textPromptIds(agent.tokenizer, template, record.question, slots);
      const { ids, targetStart } = encodeTaggedText(agent.tokenizer, text);
      expect(ids.slice(0, targetStart), `${text.role} ${i}`).toEqual(runtimeIds);
      expect(agent.tokenizer.decode(ids.slice(targetStart, -1))).toBe(text.target);
    });
  });

  it('search questions have sequential role texts only', () => {
    const record = train.find((r) => r.family === 'search')!;
    expect(new Set(roleTextsOf(record).map((t) => t.role))).toEqual(
      new Set(['planner', 'critic', 'solver']),
    );
  });
});

describe('network training pieces', () => {
  const texts = train.slice(0, 5).flatMap(roleTextsOf).slice(0, 12);

  it('the target-only loss equals the full masked cross-entropy of train/sft', () => {
    const encoded = texts.slice(0, 6).map((t) => encodeRoleText(agent.tokenizer, t));
    const [ours, reference] = tf.tidy(() => {
      const batch = targetBatch(encoded, agent.tokenizer.padTokenId);
      const full = roleTextBatch(encoded, agent.tokenizer.padTokenId);
      return [
        targetCrossEntropy(agent.model, batch).dataSync()[0]!,
        roleTextCrossEntropy(agent.model, full).dataSync()[0]!,
      ];
    });
    expect(ours).toBeGreaterThan(1);
    expect(Math.abs(ours - reference)).toBeLessThan(1e-4 * reference);
  });

  it('positions point at the token before each target token', () => {
    const encoded = [
      { ids: [5, 6, 7, 8], targetStart: 2 },
      { ids: [9, 10, 11], targetStart: 1 },
    ];
    const batch = targetBatch(encoded, 0);
    try {
      // T = 4; row 0 unpadded: targets at 2, 3 -> positions 1, 2; row 1 left-padded by 1:
      // ids at 5, 6, 7 -> targets 10, 11 at 6, 7 -> positions 5, 6.
      expect(Array.from(batch.positions.dataSync())).toEqual([1, 2, 5, 6]);
      expect(Array.from(batch.labels.dataSync())).toEqual([7, 8, 10, 11]);
    } finally {
      tf.dispose([batch.inputIds, batch.attentionMask, batch.positions, batch.labels]);
    }
  });

  it('length buckets are a seeded partition into full batches of similar length', () => {
    const encoded = Array.from({ length: 70 }, (_, i) => ({
      ids: new Array<number>(1 + ((i * 37) % 50)).fill(1),
      targetStart: 0,
    }));
    const seed = 3;
    console.log(`lengthBuckets seed ${seed}`);
    const groups = lengthBuckets(encoded, 8, seed);
    expect(groups).toHaveLength(8); // 70 texts -> 8 full batches, 6 left out this epoch
    const used = new Set(groups.flat());
    expect(used.size).toBe(64);
    for (const g of groups) {
      const lengths = g.map((t) => t.ids.length);
      expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    }
    expect(lengthBuckets(encoded, 8, seed)).toEqual(groups);
  });
});
