/**
 * The compiled stream (runtime `compile`) on random topologies and random request streams, in
 * both modes, with small random agents: every request gets exactly one answer (an error answer for
 * a request a stage refuses, its batch-mates unharmed), each request's rounds run in order
 * 1..n with its stages in the topology's execution order, and the tensor count returns to its
 * baseline after every run, failed request and cancellation.
 *
 * (That compiled runs equal the reference interpreter is specs/runtime/property.spec.ts's
 * property; it is not repeated here.)
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { from, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { topologyArbitrary } from '../../arbitraries/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { executionOrder } from '../../dsl/order.ts';
import { compile } from '../../runtime/compile.ts';
import type { BatchEvent } from '../../runtime/engine.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import type { Answer, Request } from '../../runtime/messages.ts';
import { propertyConfig } from './config.ts';
import { disposeAgents, tinyAgentsFor, useWasmAndCheckTensors } from './tinyAgents.ts';

useWasmAndCheckTensors();

const WORDS = ['what', 'is', 'two', 'plus', 'three', 'name', 'a', 'prime', 'why', '?'];

/** A request whose input carries U+0001, which every agent's prompt rendering refuses. */
const REFUSED = '\u0001';

const caseArbitrary = fc.record({
  ir: topologyArbitrary({
    hiddenSizes: [8, 16],
    rounds: { min: 1, max: 3 },
    latentSteps: { min: 1, max: 3 },
    agents: { min: 1, max: 3 },
    specialists: { min: 1, max: 2 },
  }).map((ir) => ({
    ...ir,
    decode: { ...ir.decode, maxNewTokens: Math.min(ir.decode.maxNewTokens, 3) },
  })),
  mode: fc.constantFrom('latent' as const, 'text' as const),
  requests: fc.array(
    fc.record({
      words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 }),
      refused: fc.constantFrom(false, false, false, true),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  maxBatchSize: fc.integer({ min: 1, max: 4 }),
  /** Unsubscribe after this many answers (cancelling the rest), or never. */
  cancelAfter: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  seed: fc.integer({ min: 0, max: 10_000 }),
});

/** The stages a request runs, round by round, when it answers after `rounds` rounds. */
function expectedStages(ir: TopologyIR, mode: 'latent' | 'text', rounds: number): string[] {
  const decoder = ir.decode.agent;
  const order = executionOrder(ir);
  const ancestors = new Set<string>();
  for (const stack = [decoder]; stack.length > 0; ) {
    const name = stack.pop()!;
    for (const e of ir.edges) {
      if (e.kind === 'forward' && e.to === name && !ancestors.has(e.from)) {
        ancestors.add(e.from);
        stack.push(e.from);
      }
    }
  }
  const kind = mode === 'latent' ? 'latent' : 'text';
  const full = order.map((a) => `${a}/${kind}`);
  const steps: string[] = [];
  for (let r = 1; r < rounds; r++) steps.push(...full.map((s) => `${r}:${s}`));
  if (rounds === ir.rounds.max) {
    // The final round runs what the decoder needs, then the decoder decodes.
    const needed = order.filter((a) => ancestors.has(a)).map((a) => `${a}/${kind}`);
    steps.push(...[...needed, `${decoder}/decode`].map((s) => `${rounds}:${s}`));
  } else {
    // An early stop after round `rounds`: that round ran whole, then the decoder decodes.
    steps.push(...[...full, `${decoder}/decode`].map((s) => `${rounds}:${s}`));
  }
  return steps;
}

async function settled(baseline: number): Promise<number> {
  // Work in flight when a subscriber leaves (an async decode) is freed when it finishes.
  for (let waited = 0; waited < 3000 && tf.memory().numTensors !== baseline; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return tf.memory().numTensors;
}

describe('compiled streams', () => {
  it('one answer per request, rounds in order 1..n, stages in execution order, tensors back to baseline after runs, refusals and cancellation', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, async (c) => {
        const agents = tinyAgentsFor(c.ir, c.seed);
        let links: LinkSet | undefined;
        try {
          if (c.mode === 'latent') {
            const ridgeTexts = ['what is two plus three'];
            links = createLinks(c.ir, {
              seed: c.seed,
              agents: new Map(Object.entries(agents)),
              ridgeTexts,
            });
          }
          const baseline = tf.memory().numTensors;
          const requests: Request[] = c.requests.map((r, i) => ({
            requestId: `q${i}`,
            input: `${r.words.join(' ')}${r.refused ? REFUSED : ''}`,
          }));
          const events: BatchEvent[] = [];
          const operator = compile(c.ir, {
            mode: c.mode,
            agents,
            ...(links === undefined ? {} : { links }),
            handoffTokens: 2,
            batching: { maxBatchSize: c.maxBatchSize },
            onBatch: (event) => events.push(event),
          });
          const cancelled = c.cancelAfter !== undefined && c.cancelAfter < requests.length;
          const answers: Answer[] = await lastValueFrom(
            from(requests).pipe(
              operator,
              take(cancelled ? c.cancelAfter! : requests.length),
              toArray(),
            ),
          );
          expect(await settled(baseline), 'tensors after the run').toBe(baseline);

          // One answer per request (per answered request, when cancelled), no answer twice.
          const answeredIds = answers.map((a) => a.requestId);
          expect(new Set(answeredIds).size).toBe(answeredIds.length);
          if (!cancelled)
            expect([...answeredIds].sort()).toEqual(requests.map((r) => r.requestId).sort());
          // Exactly the refused requests fail; their batch-mates do not.
          for (const answer of answers) {
            const refused = c.requests[Number(answer.requestId.slice(1))]!.refused;
            expect({ id: answer.requestId, failed: answer.error !== undefined }).toEqual({
              id: answer.requestId,
              failed: refused,
            });
          }
          // Per request: its stage calls, in the order they ran.
          const ran = new Map<string, string[]>();
          for (const event of events) {
            event.requestIds.forEach((id, i) => {
              ran.set(id, [...(ran.get(id) ?? []), `${event.rounds[i]}:${event.stage}`]);
            });
          }
          for (const request of requests) {
            const steps = ran.get(request.requestId) ?? [];
            const rounds = steps.map((s) => Number(s.split(':')[0]));
            // Rounds arrive in order 1..n: start at 1, never go back, never skip one.
            rounds.forEach((r, i) => {
              expect(r).toBe(i === 0 ? 1 : r === rounds[i - 1] ? r : rounds[i - 1]! + 1);
            });
            const answer = answers.find((a) => a.requestId === request.requestId);
            if (answer !== undefined && answer.error === undefined) {
              expect(answer.rounds).toBe(rounds.at(-1));
              expect(steps).toEqual(expectedStages(c.ir, c.mode, answer.rounds));
            } else {
              // Failed or cancelled: what ran is the beginning of some complete run.
              const prefixOfSome = Array.from({ length: c.ir.rounds.max }, (_, k) =>
                expectedStages(c.ir, c.mode, k + 1),
              ).some((full) => steps.every((s, i) => full[i] === s));
              expect(prefixOfSome, `${request.requestId}: ${steps.join(', ')}`).toBe(true);
            }
          }
        } finally {
          if (links !== undefined) disposeLinks(links);
          disposeAgents(agents);
        }
      }),
      propertyConfig('compiled streams: answers, round order, tensors', 40),
    );
  }, 240_000);
});
