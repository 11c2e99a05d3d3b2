import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgent } from '../../models/load.ts';
import { argmax, sampleToken, seededRandom } from '../../models/sampling.ts';
import type { Agent } from '../../models/types.ts';
import { describeEachBackend } from '../harness/backends.ts';
import { modelDir, readReference } from './fixtureModels.ts';

describe('sampleToken', () => {
  it('is argmax at temperature 0 (first index on ties)', () => {
    expect(argmax([0, 3, 1, 3])).toBe(1);
    expect(sampleToken([0.5, -1, 2.5, 2], {}, () => 0.99)).toBe(2);
  });

  it('samples in proportion to softmax(logits / T)', () => {
    const seed = 17;
    console.log('sampling seed', seed);
    const random = seededRandom(seed);
    // logits ln(1), ln(2), ln(5) at T = 1: probabilities 1/8, 2/8, 5/8.
    const logits = [Math.log(1), Math.log(2), Math.log(5)];
    const counts = [0, 0, 0];
    const n = 40000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1 }, random)]! += 1;
    expect(counts[0]! / n).toBeCloseTo(1 / 8, 2);
    expect(counts[1]! / n).toBeCloseTo(2 / 8, 2);
    expect(counts[2]! / n).toBeCloseTo(5 / 8, 2);
    // At T = 0.5 the logits double: probabilities 1/30, 4/30, 25/30.
    const sharp = [0, 0, 0];
    for (let i = 0; i < n; i++) sharp[sampleToken(logits, { temperature: 0.5 }, random)]! += 1;
    expect(sharp[2]! / n).toBeCloseTo(25 / 30, 2);
  });

  it('top-p keeps the smallest most-likely set reaching p, renormalised', () => {
    const random = seededRandom(5);
    // Probabilities 5/8, 2/8, 1/8: top-p 0.7 keeps {2, 1} (5/8 < 0.7 <= 7/8), sampled 5:2.
    const logits = [Math.log(1), Math.log(2), Math.log(5)];
    const counts = [0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++)
      counts[sampleToken(logits, { temperature: 1, topP: 0.7 }, random)]! += 1;
    expect(counts[0]).toBe(0);
    expect(counts[2]! / n).toBeCloseTo(5 / 7, 2);
    // top-p below the top probability keeps only the top token.
    for (let i = 0; i < 100; i++)
      expect(sampleToken(logits, { temperature: 1, topP: 0.3 }, random)).toBe(2);
  });

  it('is reproducible for a seed', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () =>
        sampleToken([0, 0.1, 0.2, 0.3], { temperature: 1 }, random),
      );
    };
    expect(draw(9)).toEqual(draw(9));
    expect(draw(9)).not.toEqual(draw(10));
  });
});

describeEachBackend('generate', () => {
  const reference = readReference('tiny-qwen2');
  let agent: Agent;
  beforeAll(async () => {
    agent = await loadAgent(modelDir('tiny-qwen2'));
  });
  afterAll(() => agent.model.dispose());

  it('stops after the first stop token, and keeps it', () => {
    const { prompt, greedy } = reference.greedy[0]!;
    const stop = greedy[5]!;
    const expected = greedy.slice(0, greedy.indexOf(stop) + 1);
    const inputIds = tf.tensor2d([prompt], undefined, 'int32');
    expect(agent.model.generate({ inputIds }, { maxNewTokens: 32, stopTokenIds: [stop] })).toEqual([
      expected,
    ]);
    inputIds.dispose();
  });

  it('rows of a batch stop independently', () => {
    const [first, second] = reference.greedy;
    const width = Math.max(first!.prompt.length, second!.prompt.length);
    const pad = (row: number[]) => [...new Array(width - row.length).fill(0), ...row];
    const inputIds = tf.tensor2d([pad(first!.prompt), pad(second!.prompt)], undefined, 'int32');
    const attentionMask = tf.tensor2d(
      [first!, second!].map((r) => pad(r.prompt.map(() => 1))),
      undefined,
      'int32',
    );
    const stop = first!.greedy[2]!;
    const out = agent.model.generate(
      { inputIds, attentionMask },
      { maxNewTokens: 10, stopTokenIds: [stop] },
    );
    const cut = (g: number[]) =>
      g.slice(0, 10).includes(stop) ? g.slice(0, g.indexOf(stop) + 1) : g.slice(0, 10);
    expect(out).toEqual([cut(first!.greedy), cut(second!.greedy)]);
    tf.dispose([inputIds, attentionMask]);
  });

  it('sampling with a seed is reproducible and differs across seeds', () => {
    const inputIds = tf.tensor2d([reference.greedy[0]!.prompt], undefined, 'int32');
    const run = (seed: number) =>
      agent.model.generate(
        { inputIds },
        { maxNewTokens: 16, temperature: 1.5, topP: 0.95, seed, stopTokenIds: [] },
      );
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    inputIds.dispose();
  });

  it('decodes from input embeddings as from ids', () => {
    const { prompt, greedy } = reference.greedy[2]!;
    const inputsEmbeds = tf.tidy(() =>
      agent.model.embed(tf.tensor2d([prompt], undefined, 'int32')),
    );
    expect(agent.model.generate({ inputsEmbeds }, { maxNewTokens: 32, stopTokenIds: [] })).toEqual([
      greedy,
    ]);
    inputsEmbeds.dispose();
  });
});
