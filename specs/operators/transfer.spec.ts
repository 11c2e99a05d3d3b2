import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { lastValueFrom, of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latentTransfer, transferLatents } from '../../operators/latentTransfer.ts';
import {
  applyLink,
  createRecursiveLink,
  type RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import type { Batch, LatentMessage } from '../../operators/messages.ts';
import { maxAbsDiff } from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

let inner: RecursiveLink;
let outer: RecursiveLink;
beforeAll(() => {
  inner = createRecursiveLink({ kind: 'inner', inDim: 12, seed: 1 });
  outer = createRecursiveLink({ kind: 'outer', inDim: 12, outDim: 20, seed: 2 });
});
afterAll(() => {
  inner.dispose();
  outer.dispose();
});

const message = (requestId: string, states: tf.Tensor2D): LatentMessage => ({
  kind: 'latent',
  requestId,
  round: 1,
  from: 'a',
  space: 'hidden',
  states,
  usage: [],
});

describe('latent transfer R_out(R_in(H))', () => {
  it('is the outer link applied to the inner link, row by row', () => {
    const [got, want] = tf.tidy(() => {
      const h = tf.randomNormal([5, 12], 0, 1, 'float32', 3) as tf.Tensor2D;
      return [
        transferLatents(inner, outer, h).dataSync(),
        applyLink(outer, applyLink(inner, h)).dataSync(),
      ];
    });
    expect(maxAbsDiff(got!, want!)).toBe(0);
  });

  it('property: one batched pass gives each request what it would get alone', async () => {
    const seed = 4242;
    console.log(`fast-check seed=${seed}`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
        fc.nat(1000),
        async (ms, s) => {
          const alone = ms.map((m, i) =>
            tf.tidy(() =>
              transferLatents(
                inner,
                outer,
                tf.randomNormal([m, 12], 0, 1, 'float32', s + i),
              ).dataSync(),
            ),
          );
          const batch: Batch<LatentMessage> = ms.map((m, i) =>
            message(`r${i}`, tf.randomNormal([m, 12], 0, 1, 'float32', s + i) as tf.Tensor2D),
          );
          const out = await lastValueFrom(
            of(batch).pipe(latentTransfer(inner, outer, { to: 'b' })),
          );
          out.forEach((o, i) => {
            const m = o as LatentMessage;
            expect(m).toMatchObject({ requestId: `r${i}`, space: 'embedding', to: 'b' });
            expect(m.usage.at(-1)).toMatchObject({ phase: 'transfer', latentSteps: 0 });
            expect(maxAbsDiff(m.states.dataSync(), alone[i]!)).toBeLessThan(1e-5);
            m.states.dispose();
          });
        },
      ),
      { seed, numRuns: 15 },
    );
  });

  it('rejects states that were already transferred, as error records', async () => {
    const done = {
      ...message('x', tf.zeros([2, 12]) as tf.Tensor2D),
      space: 'embedding' as const,
      to: 'b',
    };
    const out = await lastValueFrom(
      of([done] as Batch<LatentMessage>).pipe(latentTransfer(inner, outer, { to: 'c' })),
    );
    expect(out[0]).toMatchObject({ kind: 'error', requestId: 'x', code: 'INVALID_ARGUMENT' });
  });
});
