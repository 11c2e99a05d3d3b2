/**
 * The inner loop through the agent's own rollout: the loss against a step-by-step computation with
 * plain forward passes (one unpadded example at a time), gradients that reach only the link, and
 * a few steps that lower it.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import {
  applyLink,
  createRecursiveLink,
  type RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import { encodeRoleText } from '../../train/inner.ts';
import { rolloutInnerLoopTrainer, rolloutInnerLoss } from '../../train/innerRollout.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

const seed = 8;
const TEXTS = [
  { prompt: 'plan ( ele - ele )', target: 'ele - ele = 5 - 5 = 0' },
  { prompt: 'plan x = 2 ; x = call(x)', target: 'call(2) = 4 ; x = 4' },
  { prompt: 'plan who', target: 'ali lives in file' },
];
let agent: Agent;
let link: RecursiveLink;
beforeAll(async () => {
  console.log(`seed=${seed}`);
  agent = await createPresetAgent('tiny-planner-96', { seed, random: true });
  link = createRecursiveLink({ kind: 'inner', inDim: 96, seed });
});
afterAll(() => {
  agent.model.dispose();
  link.dispose();
});

/** Step by step: h_0 from the prompt, then prompt ⊕ R_in(h_0) ⊕ ... re-run in full each step. */
function referenceLoss(texts: typeof TEXTS): number {
  let sum = 0;
  let count = 0;
  for (const text of texts) {
    const { ids, targetStart } = encodeRoleText(agent.tokenizer, text);
    const gold = ids.slice(targetStart);
    tf.tidy(() => {
      let inputs = agent.model.embed(tf.tensor2d([ids.slice(0, targetStart)], undefined, 'int32'));
      for (let s = 0; s < gold.length; s++) {
        const t = inputs.shape[1];
        const h = agent.model
          .forward({ inputsEmbeds: inputs })
          .hidden.slice([0, t - 1, 0], [1, 1, 96]);
        const next = applyLink(link, h); // [1, 1, d]
        const target = agent.model.embed(tf.tensor2d([[gold[s]!]], undefined, 'int32'));
        const a = next.dataSync();
        const b = target.dataSync();
        let dot = 0;
        let na = 0;
        let nb = 0;
        for (let k = 0; k < a.length; k++) {
          dot += a[k]! * b[k]!;
          na += a[k]! ** 2;
          nb += b[k]! ** 2;
        }
        sum += 1 - dot / Math.sqrt(na * nb);
        count++;
        inputs = tf.concat([inputs, next], 1) as tf.Tensor3D;
      }
    });
  }
  return sum / count;
}

describe('rolloutInnerLoss', () => {
  it('equals the step-by-step rollout loss over a left-padded batch', () => {
    const encoded = TEXTS.map((t) => encodeRoleText(agent.tokenizer, t));
    const loss = rolloutInnerLoss(agent, link, encoded);
    const got = loss.dataSync()[0]!;
    loss.dispose();
    const want = referenceLoss(TEXTS);
    console.log(`batched ${got}, step by step ${want}`);
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-4);
  });

  it('sends gradients to every link variable and to nothing else', () => {
    const encoded = TEXTS.map((t) => encodeRoleText(agent.tokenizer, t));
    const { value, grads } = tf.variableGrads(() => rolloutInnerLoss(agent, link, encoded));
    const names = new Set(link.variables.map((v) => v.name));
    expect(Object.keys(grads).length).toBe(names.size);
    for (const [name, g] of Object.entries(grads)) {
      expect(names.has(name)).toBe(true);
      const norm = tf.tidy(() => tf.norm(g).dataSync()[0]!);
      expect(Number.isFinite(norm) && norm > 0).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads)]);
  });

  it('a few steps of the trainer lower the loss', () => {
    const fresh = createRecursiveLink({ kind: 'inner', inDim: 96, seed: seed + 1 });
    const encoded = TEXTS.map((t) => encodeRoleText(agent.tokenizer, t));
    const before = tf.tidy(() => rolloutInnerLoss(agent, fresh, encoded).dataSync()[0]!);
    const trainer = rolloutInnerLoopTrainer(agent, fresh, TEXTS, {
      config: { steps: 25, batchSize: 3, seed, lr: 3e-3, warmupSteps: 2 },
      progress: false,
    });
    trainer.run();
    trainer.dispose();
    const after = tf.tidy(() => rolloutInnerLoss(agent, fresh, encoded).dataSync()[0]!);
    console.log(`rollout inner loss ${before.toFixed(4)} -> ${after.toFixed(4)}`);
    expect(after).toBeLessThan(before - 0.05);
    fresh.dispose();
  });
});
