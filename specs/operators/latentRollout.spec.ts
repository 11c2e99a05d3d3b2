import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../models/types.ts';
import { latentRollout, latentRolloutUncached } from '../../operators/latentThoughts.ts';
import {
  applyLink,
  createRecursiveLink,
  type RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import { padLeftEmbeds } from '../../operators/prompt/splice.ts';
import { testAgent } from './agents.ts';
import { maxAbsDiff } from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

let agent: Agent;
let inner: RecursiveLink;
const seed = 31;
beforeAll(async () => {
  console.log(`seed=${seed}`);
  agent = await testAgent({
    name: 'planner',
    hidden: 64,
    tokenizer: 'bytebpe-2k',
    seed,
    architecture: 'qwen3',
  });
  inner = createRecursiveLink({ kind: 'inner', inDim: 64, seed });
});
afterAll(() => {
  agent.model.dispose();
  inner.dispose();
});

/** Prompt embeddings of three requests of different lengths, left-padded. */
function batch(): { inputsEmbeds: tf.Tensor3D; attentionMask: tf.Tensor2D; rows: tf.Tensor2D[] } {
  const texts = ['What is 2 + 2?', 'Factor x^2 - 1 over the integers, then explain.', 'Hi'];
  const rows = texts.map((t) =>
    tf.tidy(() => {
      const ids = agent.tokenizer.encode(t, { addSpecialTokens: false });
      return agent.model.embed(tf.tensor2d([ids], undefined, 'int32')).squeeze([0]) as tf.Tensor2D;
    }),
  );
  return { ...padLeftEmbeds(rows), rows };
}

describe('latent rollout with the KV cache', () => {
  it('gives the same m states as re-running the prefix every step (≤ 1e-4), left-padded batch', () => {
    const { inputsEmbeds, attentionMask, rows } = batch();
    const cached = latentRollout(agent.model, inner, { inputsEmbeds, attentionMask }, 6);
    const rerun = latentRolloutUncached(agent.model, inner, { inputsEmbeds, attentionMask }, 6);
    expect(cached.shape).toEqual([3, 6, 64]);
    const diff = maxAbsDiff(cached.dataSync(), rerun.dataSync());
    console.log(`max |cached − rerun| = ${diff}`);
    expect(diff).toBeLessThanOrEqual(1e-4);
    tf.dispose([cached, rerun, inputsEmbeds, attentionMask, ...rows]);
  });

  it('a padded row computes what it computes alone, unpadded', () => {
    const { inputsEmbeds, attentionMask, rows } = batch();
    const batched = latentRollout(agent.model, inner, { inputsEmbeds, attentionMask }, 4);
    const single = rows[2]!.expandDims(0) as tf.Tensor3D;
    const alone = latentRollout(agent.model, inner, { inputsEmbeds: single }, 4);
    const row = tf.tidy(() => batched.slice([2, 0, 0], [1, 4, 64]).dataSync());
    expect(maxAbsDiff(row, alone.dataSync())).toBeLessThanOrEqual(1e-4);
    tf.dispose([batched, alone, single, inputsEmbeds, attentionMask, ...rows]);
  });

  it('starts at h_t, the last prompt state, then feeds R_in(h) back (two plain forwards)', () => {
    const { inputsEmbeds, attentionMask, rows } = batch();
    const prompt = rows[0]!.expandDims(0) as tf.Tensor3D; // [1, t, d]
    const t = prompt.shape[1];
    const states = latentRollout(agent.model, inner, { inputsEmbeds: prompt }, 2);
    const [got, want] = tf.tidy(() => {
      const h0 = agent.model
        .forward({ inputsEmbeds: prompt })
        .hidden.slice([0, t - 1, 0], [1, 1, 64]);
      const e = applyLink(inner, h0); // [1, 1, d]
      const extended = tf.concat([prompt, e], 1) as tf.Tensor3D;
      const h1 = agent.model
        .forward({ inputsEmbeds: extended })
        .hidden.slice([0, t, 0], [1, 1, 64]);
      return [states.dataSync(), tf.concat([h0, h1], 1).dataSync()];
    });
    expect(maxAbsDiff(got!, want!)).toBeLessThanOrEqual(1e-5);
    tf.dispose([states, prompt, inputsEmbeds, attentionMask, ...rows]);
  });

  it('m = 0 gives [batch, 0, d]', () => {
    const { inputsEmbeds, attentionMask, rows } = batch();
    const none = latentRollout(agent.model, inner, { inputsEmbeds, attentionMask }, 0);
    expect(none.shape).toEqual([3, 0, 64]);
    tf.dispose([none, inputsEmbeds, attentionMask, ...rows]);
  });

  it('the re-run-the-prefix rollout is differentiable w.r.t. the inner link', () => {
    const { inputsEmbeds, attentionMask, rows } = batch();
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          latentRolloutUncached(agent.model, inner, { inputsEmbeds, attentionMask }, 3),
        ) as tf.Scalar,
      inner.variables,
    );
    const proj1 = tf.tidy(() => tf.norm(grads[inner.proj1.weight.name]!).dataSync()[0]!);
    expect(proj1).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads), inputsEmbeds, attentionMask, ...rows]);
  });
});
