/**
 * The paper's four patterns end to end on real tiny agents, in latent mode and in the text
 * baseline: the compiled stream answers every request, exactly as the reference interpreter does
 * one request at a time (greedy decoding: same text, same rounds), with the usage the IR's
 * semantics imply, and leaves no tensor behind.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliberation, distillation, mixture, sequential, toIR } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { compile } from '../../runtime/compile.ts';
import { interpret } from '../../runtime/interpreter.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import type { Answer } from '../../runtime/messages.ts';
import { tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const M = 2; // latent steps
const rounds = { max: 2, latentSteps: M };
const decode = { maxNewTokens: 5 };
const role = (d: 96 | 128 | 192) =>
  ({
    96: { model: 'tiny-planner-96', hiddenSize: 96 },
    128: { model: 'tiny-critic-128', hiddenSize: 128 },
    192: { model: 'tiny-solver-192', hiddenSize: 192 },
  })[d];

const PATTERNS: Record<string, TopologyIR> = {
  sequential: toIR(
    sequential({ planner: role(96), critic: role(128), solver: role(192), rounds, decode }),
  ),
  mixture: toIR(
    mixture({
      specialists: { math: role(96), code: role(128) },
      summarizer: role(192),
      rounds,
      decode,
    }),
  ),
  distillation: toIR(distillation({ expert: role(192), learner: role(96), rounds, decode })),
  deliberation: toIR(deliberation({ reflector: role(128), toolCaller: role(96), rounds, decode })),
};

/** Agents that run in round 1 and in the final round 2 (the decoder decodes in round 2). */
const RUNS: Record<string, { round1: string[]; round2: string[]; decoder: string }> = {
  sequential: {
    round1: ['planner', 'critic', 'solver'],
    round2: ['planner', 'critic'],
    decoder: 'solver',
  },
  mixture: {
    round1: ['math', 'code', 'summarizer'],
    round2: ['math', 'code'],
    decoder: 'summarizer',
  },
  distillation: { round1: ['expert', 'learner'], round2: ['expert'], decoder: 'learner' },
  deliberation: {
    round1: ['reflector', 'toolCaller'],
    round2: ['reflector'],
    decoder: 'toolCaller',
  },
};

const questions = ['What is 12 * 7?', 'Is 91 prime? Answer yes or no.'].map((input, i) => ({
  requestId: `q${i}`,
  input,
}));

let links: Map<string, LinkSet>;
beforeAll(() => {
  links = new Map(
    Object.entries(PATTERNS).map(([name, ir]) => [name, createLinks(ir, { seed: 5 })]),
  );
});
afterAll(() => {
  for (const set of links.values()) disposeLinks(set);
});

describe.each(['latent', 'text'] as const)('the four patterns, %s mode', (mode) => {
  it.each(Object.keys(PATTERNS))('%s: compiled answers equal the interpreter’s', async (name) => {
    const ir = PATTERNS[name]!;
    const agents = tinyAgentsFor(ir);
    const options = { mode, agents, links: links.get(name)!, handoffTokens: 4 };
    const answers = await lastValueFrom(
      from(questions).pipe(compile(ir, { ...options, batching: { maxBatchSize: 4 } }), toArray()),
    );
    const reference: Answer[] = [];
    for (const q of questions) reference.push(await interpret(ir, q, options));

    expect(answers.map((a) => a.requestId).sort()).toEqual(['q0', 'q1']);
    for (const answer of answers) {
      const ref = reference.find((r) => r.requestId === answer.requestId)!;
      expect(answer.error).toBeUndefined();
      expect(answer.text.length).toBeGreaterThan(0);
      expect({ text: answer.text, rounds: answer.rounds }).toEqual({ text: ref.text, rounds: 2 });

      // Usage, per (agent, round), from the IR: who runs in each round and what it does.
      const runs = RUNS[name]!;
      const keys = answer.usage.map((u) => `${u.agent}@${u.round}`).sort();
      expect(keys).toEqual(
        [
          ...runs.round1.map((a) => `${a}@1`),
          ...runs.round2.map((a) => `${a}@2`),
          `${runs.decoder}@2`,
        ].sort(),
      );
      for (const u of answer.usage) {
        const decodes = u.agent === runs.decoder && u.round === 2;
        expect(u.latentSteps).toBe(mode === 'latent' && !decodes ? M : 0);
        if (decodes) expect(u.generatedTokens).toBeGreaterThan(0);
        if (mode === 'text' && !decodes) expect(u.generatedTokens).toBeGreaterThan(0);
        expect(u.generatedTokens).toBeLessThanOrEqual(decodes ? decode.maxNewTokens : 4);
        expect(u.promptTokens).toBeGreaterThan(0);
        expect(u.flops).toBeGreaterThan(0);
      }
    }
    // The answers depend on the question (random-weight agents, but not constant ones).
    expect(answers[0]!.text).not.toBe(answers[1]!.text);
  });
});
