/**
 * `compile` on real tiny agents: what it refuses at once, how a failing request fails alone,
 * cancellation, and memory that stays bounded under load.
 */
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequential, toIR } from '../../dsl/index.ts';
import { compile } from '../../runtime/compile.ts';
import { creditSource } from '../../runtime/credit.ts';
import type { RuntimeError } from '../../runtime/errors.ts';
import { interpret } from '../../runtime/interpreter.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import { tinyAgent, tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const ir = toIR(
  sequential({
    planner: { model: 'tiny-planner-96', hiddenSize: 96 },
    critic: { model: 'tiny-critic-128', hiddenSize: 128 },
    solver: { model: 'tiny-solver-192', hiddenSize: 192 },
    rounds: { max: 2, latentSteps: 2 },
    decode: { maxNewTokens: 3 },
  }),
);
const request = (i: number, input = `Question number ${i}?`) => ({ requestId: `r${i}`, input });

let links: LinkSet;
beforeAll(() => {
  links = createLinks(ir, { seed: 3 });
});
afterAll(() => disposeLinks(links));

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return (error as RuntimeError).code;
  }
  return 'no error';
};

describe('what compile refuses', () => {
  it('refuses an invalid topology and bad options at once', () => {
    const broken = { ...ir, decode: { ...ir.decode, agent: 'nobody' } };
    expect(codeOf(() => compile(broken))).toBe('INVALID_TOPOLOGY');
    expect(codeOf(() => compile(ir, { batching: { maxBatchSize: 0 } }))).toBe('INVALID_OPTIONS');
    expect(codeOf(() => compile(ir, { queue: { policy: 'whatever' as never } }))).toBe(
      'INVALID_OPTIONS',
    );
  });

  it('fails the stream when a model cannot be resolved or does not fit', async () => {
    const unknown = {
      ...ir,
      agents: ir.agents.map((a) => ({ ...a, model: { preset: 'no-such-preset' } })),
    };
    await expect(lastValueFrom(from([request(0)]).pipe(compile(unknown)))).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL',
    });
    const agents = { ...tinyAgentsFor(ir), critic: tinyAgent('tiny-planner-96') };
    await expect(
      lastValueFrom(from([request(0)]).pipe(compile(ir, { agents, links }))),
    ).rejects.toMatchObject({
      code: 'AGENT_MISMATCH',
      message:
        'agent "critic" declares hidden size 128, but its model {"preset":"tiny-critic-128"} has 96',
    });
  });
});

describe('error isolation on real agents', () => {
  it('answers a bad request with an error; its batch-mates get their normal answers', async () => {
    const agents = tinyAgentsFor(ir);
    const requests = [request(0), request(1, 'bad \u0001 input'), request(2)];
    const answers = await lastValueFrom(
      from(requests).pipe(compile(ir, { agents, links, batching: { maxBatchSize: 4 } }), toArray()),
    );
    const bad = answers.find((a) => a.requestId === 'r1')!;
    expect(bad.error).toEqual({
      code: 'INVALID_REQUEST',
      message: 'stage planner/latent (round 1): the input contains the control character U+0001',
    });
    expect(bad.rounds).toBe(0);
    for (const i of [0, 2]) {
      const good = answers.find((a) => a.requestId === `r${i}`)!;
      const expected = await interpret(ir, request(i), { agents, links, mode: 'latent' });
      expect(good.text).toBe(expected.text);
    }
  });
});

describe('cancellation', () => {
  it('frees every tensor of the requests in flight when the subscriber leaves', async () => {
    const agents = tinyAgentsFor(ir);
    const baseline = tf.memory().numTensors;
    const first = await lastValueFrom(
      from([0, 1, 2, 3, 4].map((i) => request(i))).pipe(
        compile(ir, { agents, links, batching: { maxBatchSize: 2 } }),
        take(1),
        toArray(),
      ),
    );
    expect(first.length).toBe(1);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('frees the links it created when unsubscribed before the models were ready', async () => {
    const baseline = tf.memory().numTensors;
    const subscription = from([request(0)])
      .pipe(compile(ir, { agents: tinyAgentsFor(ir), links: { seed: 9 } }))
      .subscribe();
    subscription.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe('memory under load', () => {
  /** Most tensors alive at the start of any stage call, over the baseline. */
  async function peakTensors(
    count: number,
    queue: { capacity: number; policy: 'block' | 'reject' },
  ) {
    const agents = tinyAgentsFor(ir);
    const baseline = tf.memory().numTensors;
    let peak = 0;
    const requests = Array.from({ length: count }, (_, i) => request(i));
    const answers = await lastValueFrom(
      creditSource(requests).pipe(
        compile(ir, {
          agents,
          links,
          queue,
          batching: { maxBatchSize: 8 },
          onBatch: () => {
            peak = Math.max(peak, tf.memory().numTensors - baseline);
          },
        }),
        toArray(),
      ),
    );
    expect(answers.filter((a) => a.error === undefined).length).toBe(count);
    return peak;
  }

  it("holds at most `capacity` requests' latents, however many arrive ('block')", async () => {
    // A sequential request holds at most 4 tensors between stages: 3 agents' thoughts + 1 fed back.
    const bounded = await peakTensors(12, { capacity: 2, policy: 'block' });
    expect(bounded).toBeLessThanOrEqual(2 * 4);
    // Without credit, all 12 are admitted at once and their latents pile up.
    const unbounded = await peakTensors(12, { capacity: 64, policy: 'reject' });
    expect(unbounded).toBeGreaterThan(2 * 4);
  }, 60_000);
});
