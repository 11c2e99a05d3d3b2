import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { teacherForcedOuterLoss } from '../../bench/agents/outerTeacherForced.ts';
import { topology } from '../../dsl/builder.ts';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import { latentRollout } from '../../operators/latentThoughts.ts';
import { transferLatents } from '../../operators/latentTransfer.ts';
import { spliceLatents } from '../../operators/prompt/splice.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { createLinks, disposeLinks } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { slottedPrompt } from '../../runtime/prompt.ts';
import { unrollRounds } from '../../runtime/unroll.ts';
import { maskedCrossEntropy } from '../../train/crossEntropy.ts';

// A two-agent chain: the reader rolls out m latent thoughts, the writer reads them and decodes.
const M = 3;
const ir = topology('pair')
  .agent('reader', {
    model: 'tiny-planner-96',
    hiddenSize: 96,
    prompt: 'read {{question}}',
    latentSteps: M,
  })
  .agent('writer', {
    model: 'tiny-critic-128',
    hiddenSize: 128,
    prompt: 'write {{question}} notes {{latent:reader}}',
    latentSteps: M,
  })
  .edge('reader', 'writer')
  .rounds({ max: 1 })
  .decode('writer')
  .build().ir;

const examples = [
  { question: 'age + bet', texts: { reader: 'age + bet = 8', writer: '8' } },
  { question: 'det * com', texts: { reader: 'det * com = 6', writer: 'answer 6' } },
];

let agents: Map<string, Agent>;
let baseline = 0;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', strict: true, log: false });
  agents = new Map([
    ['reader', await createPresetAgent('tiny-planner-96', { seed: 2, random: true })],
    ['writer', await createPresetAgent('tiny-critic-128', { seed: 3, random: true })],
  ]);
});
afterAll(() => {
  for (const a of agents.values()) a.model.dispose();
});
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
});

/** The writer's cross-entropy on its gold text, from the operators, one request at a time. */
function reference(links: ReturnType<typeof createLinks>): number {
  const reader = agents.get('reader')!;
  const writer = agents.get('writer')!;
  return tf.tidy(() => {
    let sum = 0;
    let count = 0;
    for (const e of examples) {
      const readerInput = spliceLatents(
        reader.model,
        slottedPrompt(reader.tokenizer, 'read {{question}}', e.question),
      );
      const h = latentRollout(
        reader.model,
        links.get('inner:reader')!,
        { inputsEmbeds: readerInput.expandDims(0) as tf.Tensor3D },
        M,
      ).squeeze([0]) as tf.Tensor2D;
      const latents = transferLatents(
        links.get('inner:reader')!,
        links.get('outer:reader->writer')!,
        h,
      );
      const prompt = spliceLatents(
        writer.model,
        slottedPrompt(writer.tokenizer, 'write {{question}} notes {{latent:reader}}', e.question),
        { 'latent:reader': latents },
      );
      const gold = [
        ...writer.tokenizer.encode(e.texts.writer, { addSpecialTokens: false }),
        writer.tokenizer.eosTokenIds[0]!,
      ];
      const input = tf.concat([
        prompt,
        writer.model.embed(tf.tensor2d([gold], [1, gold.length], 'int32')).squeeze([0]),
      ]);
      const { logits } = writer.model.forward({
        inputsEmbeds: input.expandDims(0) as tf.Tensor3D,
        returnLogits: true,
      });
      const T = input.shape[0];
      const t = prompt.shape[0];
      const labels = new Array<number>(T).fill(0);
      const mask = new Array<number>(T).fill(0);
      gold.forEach((id, j) => {
        labels[t - 1 + j] = id;
        mask[t - 1 + j] = 1;
      });
      const ce = maskedCrossEntropy(
        logits!,
        tf.tensor2d([labels], [1, T], 'int32'),
        tf.tensor2d([mask], [1, T]),
      ).dataSync()[0]!;
      sum += ce * gold.length;
      count += gold.length;
    }
    return sum / count;
  });
}

describe('teacher-forced outer loss', () => {
  it('with rollout senders, equals the receiver cross-entropy rebuilt from the operators', () => {
    const links = createLinks(ir, { seed: 4 });
    try {
      const plan = buildPlan(ir, { agents, links, mode: 'latent' });
      const value = tf.tidy(() => {
        const { rounds, inputsEmbeds, attentionMask } = unrollRounds(
          plan,
          examples.map((e) => e.question),
          { rounds: 1, differentiable: false },
        );
        tf.dispose([inputsEmbeds, attentionMask]);
        return teacherForcedOuterLoss(
          ir,
          agents,
          links,
          examples,
          { rounds: 1 },
          rounds,
        ).dataSync()[0]!;
      });
      const expected = reference(links);
      expect(value).toBeGreaterThan(1);
      expect(Math.abs(value - expected)).toBeLessThan(2e-3 * expected);
    } finally {
      disposeLinks(links);
    }
  });

  it('gives gradients to the outer link and none to the inner links', () => {
    const links = createLinks(ir, { seed: 5 });
    try {
      const outer = [...links.get('outer:reader->writer')!.namedParameters().values()];
      const inner = [
        ...links.get('inner:reader')!.namedParameters().values(),
        ...links.get('inner:writer')!.namedParameters().values(),
      ];
      const norms = tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => teacherForcedOuterLoss(ir, agents, links, examples, { rounds: 1 }),
          [...outer, ...inner],
        );
        const norm = (vs: tf.Variable[]) =>
          vs.reduce(
            (s, v) => s + (grads[v.name] ? tf.sum(tf.abs(grads[v.name]!)).dataSync()[0]! : 0),
            0,
          );
        return {
          outer: norm(outer),
          innerWriter: norm([...links.get('inner:writer')!.namedParameters().values()]),
        };
      });
      expect(norms.outer).toBeGreaterThan(0);
      // The writer decodes; its own inner link is on no path to the loss.
      expect(norms.innerWriter).toBe(0);
    } finally {
      disposeLinks(links);
    }
  });
});
