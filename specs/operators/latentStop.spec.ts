/**
 * The latent stop: where a row's thoughts end (the first state whose next input R_in(h) is
 * within minCosine of a stop embedding), and the cached rollout that stops stepping once every
 * row has ended.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../models/types.ts';
import { isStop, latentStopOf, thoughtLengths } from '../../operators/latentStop.ts';
import { latentRollout } from '../../operators/latentThoughts.ts';
import {
  applyLink,
  createRecursiveLink,
  type RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import { testAgent } from './agents.ts';
import { maxAbsDiff } from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

/** R_in(x) = x: a linear inner link with the identity matrix. */
function identityLink(d: number): RecursiveLink {
  const link = createRecursiveLink({
    kind: 'inner',
    variant: 'linear_adapter',
    inDim: d,
    init: 'zeros',
  });
  tf.tidy(() => link.proj1.weight.assign(tf.eye(d)));
  return link;
}

describe('thoughtLengths', () => {
  it('cuts each row before its first stop thought, keeps at least one, keeps m without a stop', () => {
    const link = identityLink(2);
    const stop = { embeddings: tf.tensor2d([[1, 0]]), minCosine: 0.6 };
    // cos to (1, 0) by hand: (0, 1) -> 0; (1, 1) -> 0.707; (1, 2) -> 0.447; (-1, 0) -> -1.
    const states = tf.tensor3d([
      [
        [0, 1],
        [1, 2],
        [1, 1],
        [0, 1],
      ], // first stop at s = 2 -> 2 thoughts
      [
        [0, 1],
        [1, 2],
        [-1, 0],
        [1, 2],
      ], // no stop -> all 4
      [
        [3, 0],
        [0, 1],
        [1, 1],
        [0, 1],
      ], // stop at s = 0 -> at least 1
    ]);
    expect(thoughtLengths(link, states, stop)).toEqual([2, 4, 1]);
    const next = tf.tensor2d([
      [1, 1],
      [1, 2],
    ]);
    expect(isStop(next, stop)).toEqual([true, false]);
    tf.dispose([stop.embeddings, states, next]);
    link.dispose();
  });
});

describe('latentRollout with a stop', () => {
  const seed = 41;
  let agent: Agent;
  let inner: RecursiveLink;
  beforeAll(async () => {
    console.log(`seed=${seed}`);
    agent = await testAgent({ name: 'planner', hidden: 64, tokenizer: 'bytebpe-2k', seed });
    inner = createRecursiveLink({ kind: 'inner', inDim: 64, seed });
  });
  afterAll(() => {
    agent.model.dispose();
    inner.dispose();
  });

  it('stops stepping once the row reaches a stop thought; the states it made are the same', () => {
    const ids = agent.tokenizer.encode('What is 2 + 2?', { addSpecialTokens: false });
    const prompt = tf.tidy(() => agent.model.embed(tf.tensor2d([ids], undefined, 'int32')));
    const full = latentRollout(agent.model, inner, { inputsEmbeds: prompt }, 6);
    // The stop is the thought R_in(h_2) this rollout makes: the row ends after h_2.
    const embeddings = tf.tidy(
      () => applyLink(inner, full.slice([0, 2, 0], [1, 1, 64]).reshape([1, 64])) as tf.Tensor2D,
    );
    const stop = { embeddings, minCosine: 0.999 };
    const stopped = latentRollout(agent.model, inner, { inputsEmbeds: prompt }, 6, stop);
    expect(stopped.shape).toEqual([1, 3, 64]);
    const prefix = tf.tidy(() => full.slice([0, 0, 0], [1, 3, 64]).dataSync());
    expect(maxAbsDiff(stopped.dataSync(), prefix)).toBeLessThanOrEqual(1e-5);
    expect(thoughtLengths(inner, stopped, stop)).toEqual([2]);
    tf.dispose([prompt, full, embeddings, stopped]);
  });

  it("takes the stop embeddings from the agent's end-of-sequence tokens and checks minCosine", () => {
    const stop = latentStopOf(agent.model, agent.tokenizer, 0.9);
    const eos = agent.tokenizer.eosTokenIds;
    const table = tf.tidy(() =>
      agent.model.embed(tf.tensor2d([[...eos]], undefined, 'int32')).squeeze([0]),
    );
    expect(stop.embeddings.shape).toEqual([eos.length, 64]);
    expect(maxAbsDiff(stop.embeddings.dataSync(), table.dataSync())).toBe(0);
    expect(() => latentStopOf(agent.model, agent.tokenizer, 0)).toThrow(/minCosine/);
    expect(() => latentStopOf(agent.model, agent.tokenizer, 1.5)).toThrow(/minCosine/);
    tf.dispose([stop.embeddings, table]);
  });
});
