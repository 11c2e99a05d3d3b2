/**
 * Worker threads: `compile(t, { workers: 2 })` spreads requests over two threads, each with its
 * own backend and copy of the models (loaded from the IR's presets) and the links (serialized from
 * the caller's LinkSet). The answers are the ones the same topology gives in this thread.
 */
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mixture, toIR } from '../../dsl/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { compile } from '../../runtime/compile.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import type { WorkerBatchEvent } from '../../runtime/workers/pool.ts';

const ir = toIR(
  mixture({
    specialists: {
      math: { model: 'tiny-planner-96', hiddenSize: 96 },
      code: { model: 'tiny-critic-128', hiddenSize: 128 },
    },
    summarizer: { model: 'tiny-solver-192', hiddenSize: 192 },
    rounds: { max: 2, latentSteps: 2 },
    decode: { maxNewTokens: 4 },
  }),
);
const requests = Array.from({ length: 6 }, (_, i) => ({
  requestId: `w${i}`,
  input: `What is ${i} + ${2 * i}?`,
}));

let links: LinkSet;
beforeAll(async () => {
  await initBackend({ backend: 'wasm', strict: true, log: false });
  links = createLinks(ir, { seed: 4 });
});
afterAll(() => disposeLinks(links));

it('refuses options that cannot cross threads', () => {
  expect(() => compile(ir, { workers: 2, stop: () => false })).toThrow(
    'with workers, these options cannot cross threads: stop',
  );
});

it('answers on two workers exactly as in this thread, using both', async () => {
  const baseline = tf.memory().numTensors;
  const local = await lastValueFrom(
    from(requests).pipe(compile(ir, { links, batching: { maxBatchSize: 2 } }), toArray()),
  );
  expect(tf.memory().numTensors).toBe(baseline);

  const events: WorkerBatchEvent[] = [];
  const pooled = await lastValueFrom(
    from(requests).pipe(
      compile(ir, {
        links,
        workers: 2,
        batching: { maxBatchSize: 2 },
        onBatch: (e) => events.push(e as WorkerBatchEvent),
      }),
      toArray(),
    ),
  );
  const texts = (answers: typeof local) =>
    Object.fromEntries(
      answers.map((a) => [a.requestId, { text: a.text, rounds: a.rounds, error: a.error }]),
    );
  expect(texts(pooled)).toEqual(texts(local));
  // Requests were spread: each worker ran batches, and each request stayed on one worker.
  expect(new Set(events.map((e) => e.worker))).toEqual(new Set([0, 1]));
  for (const r of requests) {
    expect(
      new Set(events.filter((e) => e.requestIds.includes(r.requestId)).map((e) => e.worker)).size,
    ).toBe(1);
  }
}, 120_000);
