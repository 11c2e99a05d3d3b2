/**
 * Agents with a latent stop (`latentStop`): thoughts end per request where R_in(h) meets the
 * agent's end-of-sequence embedding. Batched compiled runs give the interpreter's answers (one
 * request at a time), the ledger counts the steps each request took, and tensors are freed.
 */
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequential, toIR } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { compile } from '../../runtime/compile.ts';
import { interpret } from '../../runtime/interpreter.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import { tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const M = 6;
// Random tiny agents' thoughts sit at cosines of about ±0.2 to their end-of-sequence embedding:
// a low bar makes some requests stop early and others not.
const STOP = { minCosine: 0.08 };
const base = toIR(
  sequential({
    planner: { model: 'tiny-planner-96', hiddenSize: 96 },
    critic: { model: 'tiny-critic-128', hiddenSize: 128 },
    solver: { model: 'tiny-solver-192', hiddenSize: 192 },
    rounds: { max: 2, latentSteps: M },
    decode: { maxNewTokens: 4 },
  }),
);
const ir: TopologyIR = { ...base, agents: base.agents.map((a) => ({ ...a, latentStop: STOP })) };
const requests = Array.from({ length: 8 }, (_, i) => ({
  requestId: `r${i}`,
  input: `question ${i}: what is ${i} + ${2 * i}?`,
}));

let links: LinkSet;
beforeAll(() => {
  console.log('seed=5 (links)');
  links = createLinks(ir, { seed: 5 });
});
afterAll(() => disposeLinks(links));

describe('latent stop in the runtime', () => {
  it('batched compiled runs answer as the interpreter does, and the ledger counts each stop', async () => {
    const agents = tinyAgentsFor(ir);
    const baseline = tf.memory().numTensors;
    const answers = await lastValueFrom(
      from(requests).pipe(
        compile(ir, { agents, links, batching: { maxBatchSize: 4, lingerMs: 5 } }),
        toArray(),
      ),
    );
    expect(tf.memory().numTensors).toBe(baseline);
    const steps: number[] = [];
    for (const request of requests) {
      const got = answers.find((a) => a.requestId === request.requestId)!;
      const want = await interpret(ir, request, { agents, links, mode: 'latent' });
      expect(got.error).toBeUndefined();
      expect(got.text).toBe(want.text);
      for (const u of got.usage) if (u.latentSteps > 0) steps.push(u.latentSteps);
    }
    console.log(`latent steps per agent and round: ${steps.join(' ')}`);
    // Some thoughts ended early, some ran all m steps: the stop acted per request.
    expect(steps.some((s) => s < M)).toBe(true);
    expect(steps.some((s) => s === M)).toBe(true);
    expect(Math.max(...steps)).toBeLessThanOrEqual(M);
  });
});
