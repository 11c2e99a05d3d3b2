/**
 * Property: on random valid topologies (the DSL's arbitraries: the four patterns with random
 * roles and free-form graphs, random link variants and inits, 1–3 rounds, random epsilon) and in
 * either mode, the compiled stream and the reference interpreter give every request the same text
 * and the same number of rounds under greedy decoding, and release every tensor.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { topologyArbitrary } from '../../dsl/arbitraries.ts';
import { compile } from '../../runtime/compile.ts';
import { interpret } from '../../runtime/interpreter.ts';
import { createLinks, disposeLinks } from '../../runtime/links.ts';
import type { RoundInfo } from '../../runtime/messages.ts';
import { TINY, type TinyWidth, tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const SEED = 20260525;

const caseArbitrary = fc.record({
  ir: topologyArbitrary({
    hiddenSizes: [96, 128, 192],
    model: (d) => ({ preset: TINY[d as TinyWidth] }),
    rounds: { min: 1, max: 3 },
    latentSteps: { min: 0, max: 2 },
    agents: { min: 1, max: 4 },
    specialists: { min: 1, max: 2 },
  }).map((ir) => ({
    ...ir,
    // Greedy and short: exact agreement is claimed under greedy decoding.
    decode: { ...ir.decode, temperature: 0, maxNewTokens: Math.min(ir.decode.maxNewTokens, 4) },
  })),
  mode: fc.constantFrom('latent' as const, 'text' as const),
  /** The user's predicate stops request q1 after this round (if any). */
  stopAfter: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
  linkSeed: fc.integer({ min: 0, max: 1000 }),
});

it('compiled and interpreted runs agree on random topologies', async () => {
  console.log(`fast-check seed ${SEED}`);
  await fc.assert(
    fc.asyncProperty(caseArbitrary, async ({ ir, mode, stopAfter, linkSeed }) => {
      const agents = tinyAgentsFor(ir);
      const baseline = tf.memory().numTensors;
      const links = createLinks(ir, { seed: linkSeed, agents: new Map(Object.entries(agents)) });
      try {
        const stop = (info: RoundInfo) => info.requestId === 'q1' && info.round === stopAfter;
        const options = { mode, agents, links, handoffTokens: 3, stop };
        const questions = ['What is 3 + 4?', 'Name a prime.', 'Why?'].map((input, i) => ({
          requestId: `q${i}`,
          input,
        }));
        const compiled = await lastValueFrom(
          from(questions).pipe(
            compile(ir, { ...options, batching: { maxBatchSize: 2 } }),
            toArray(),
          ),
        );
        for (const q of questions) {
          const expected = await interpret(ir, q, options);
          const got = compiled.find((a) => a.requestId === q.requestId);
          expect(got?.error).toBeUndefined();
          expect({ text: got?.text, rounds: got?.rounds }).toEqual({
            text: expected.text,
            rounds: expected.rounds,
          });
        }
      } finally {
        disposeLinks(links);
      }
      expect(tf.memory().numTensors).toBe(baseline);
    }),
    { seed: SEED, numRuns: 8, endOnFailure: true },
  );
}, 120_000);
