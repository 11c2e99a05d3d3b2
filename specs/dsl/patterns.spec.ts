import { describe, expect, it } from 'vitest';
import {
  DELIBERATION_PROMPTS,
  deliberation,
  distillation,
  executionOrder,
  mixture,
  promptSlots,
  SEQUENTIAL_PROMPTS,
  sequential,
  type Topology,
  validate,
} from '../../dsl/index.ts';

const role = (hiddenSize: number) => ({ model: `tiny-${hiddenSize}`, hiddenSize });
const edges = (t: Topology) =>
  t.ir.edges.map((e) => `${e.from} ${e.kind === 'feedback' ? '~>' : '->'} ${e.to}`);
const slots = (t: Topology) =>
  Object.fromEntries(t.ir.agents.map((a) => [a.name, promptSlots(a.prompt)]));

describe('the four patterns (recursivemas.md §2)', () => {
  it('sequential: planner -> critic -> solver, solver feeds the planner back, solver decodes', () => {
    const t = sequential({
      planner: role(96),
      critic: role(128),
      solver: role(192),
      rounds: { max: 3, latentSteps: 16 },
    });
    expect(validate(t)).toEqual([]);
    expect(t.ir.agents.map((a) => [a.name, a.hiddenSize, a.latentSteps])).toEqual([
      ['planner', 96, 16],
      ['critic', 128, 16],
      ['solver', 192, 16],
    ]);
    expect(edges(t)).toEqual(['planner -> critic', 'critic -> solver', 'solver ~> planner']);
    expect(slots(t)).toEqual({
      planner: ['question', 'feedback'],
      critic: ['question', 'latent:planner'],
      solver: ['question', 'latent:critic'],
    });
    expect(t.ir.decode.agent).toBe('solver');
    expect(t.ir.rounds.max).toBe(3);
    expect(executionOrder(t.ir)).toEqual(['planner', 'critic', 'solver']);
    expect(t.ir.agents[0]?.prompt).toBe(SEQUENTIAL_PROMPTS.planner);
  });

  it('mixture: specialists -> summarizer, summarizer feeds each specialist back, summarizer decodes', () => {
    const t = mixture({
      specialists: { math: role(96), code: role(128), science: role(192) },
      summarizer: role(128),
    });
    expect(validate(t)).toEqual([]);
    expect(edges(t)).toEqual([
      'math -> summarizer',
      'code -> summarizer',
      'science -> summarizer',
      'summarizer ~> math',
      'summarizer ~> code',
      'summarizer ~> science',
    ]);
    expect(slots(t)).toEqual({
      math: ['question', 'feedback'],
      code: ['question', 'feedback'],
      science: ['question', 'feedback'],
      summarizer: ['question', 'latent:math', 'latent:code', 'latent:science'],
    });
    expect(t.ir.decode.agent).toBe('summarizer');
    expect(executionOrder(t.ir)).toEqual(['math', 'code', 'science', 'summarizer']);
  });

  it('distillation: expert -> learner, learner feeds the expert back, learner decodes', () => {
    const t = distillation({ expert: role(192), learner: role(96) });
    expect(validate(t)).toEqual([]);
    expect(edges(t)).toEqual(['expert -> learner', 'learner ~> expert']);
    expect(slots(t)).toEqual({
      expert: ['question', 'feedback'],
      learner: ['question', 'latent:expert'],
    });
    expect(t.ir.decode.agent).toBe('learner');
  });

  it('deliberation: reflector <-> tool-caller, the tool-caller decodes with tools', () => {
    const t = deliberation({
      reflector: role(128),
      toolCaller: role(128),
      decode: { maxToolRounds: 5 },
    });
    expect(validate(t)).toEqual([]);
    expect(edges(t)).toEqual(['reflector -> toolCaller', 'toolCaller ~> reflector']);
    expect(t.ir.agents.map((a) => [a.name, a.tools])).toEqual([
      ['reflector', []],
      ['toolCaller', ['javascript', 'search']],
    ]);
    expect(t.ir.decode).toMatchObject({ agent: 'toolCaller', maxToolRounds: 5 });
    expect(t.ir.agents[1]?.prompt).toBe(DELIBERATION_PROMPTS.toolCaller);
  });

  it('takes custom prompts, links and decoding settings', () => {
    const t = distillation({
      expert: { ...role(64), prompt: 'E: {{question}} / {{feedback}}', innerLink: 'paper' },
      learner: { ...role(32), prompt: 'L: {{latent:expert}} {{question}}', latentSteps: 4 },
      outerLink: { variant: 'residual-one-layer', init: 'ridge' },
      decode: { temperature: 0.6, topP: 0.95 },
      name: 'tutor',
    });
    expect(validate(t)).toEqual([]);
    expect(t.ir.name).toBe('tutor');
    expect(t.ir.agents.map((a) => [a.prompt, a.innerLink.variant, a.latentSteps])).toEqual([
      ['E: {{question}} / {{feedback}}', 'paper', 32],
      ['L: {{latent:expert}} {{question}}', 'official', 4],
    ]);
    expect(t.ir.edges.map((e) => e.outerLink)).toEqual([
      { variant: 'residual-one-layer', init: 'ridge' },
      { variant: 'residual-one-layer', init: 'ridge' },
    ]);
    expect(t.ir.decode).toEqual({
      agent: 'learner',
      maxNewTokens: 256,
      temperature: 0.6,
      topP: 0.95,
      maxToolRounds: 5,
    });
  });
});
