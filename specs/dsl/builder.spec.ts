import { describe, expect, it } from 'vitest';
import {
  fromIR,
  linkIR,
  looseTopology,
  modelRef,
  type TopologyIR,
  toIR,
  topology,
  validate,
} from '../../dsl/index.ts';

const pair = () =>
  topology('pair')
    .agent('thinker', {
      model: 'tiny-96',
      hiddenSize: 96,
      prompt: 'Think: {{question}} {{feedback}}',
    })
    .agent('answerer', {
      model: './models/qwen',
      hiddenSize: 128,
      prompt: 'Answer {{question}} using {{latent:thinker}}',
      latentSteps: 4,
      innerLink: 'paper',
      tools: ['javascript'],
    })
    .edge('thinker', 'answerer', { outerLink: { variant: 'no-residual', init: 'ridge' } })
    .feedback('answerer', 'thinker', { outerLink: 'one-layer' })
    .rounds({ max: 2, epsilon: 0.01, latentSteps: 8 })
    .decode('answerer', { maxNewTokens: 64, temperature: 0.6, topP: 0.95 });

// Written out by hand: what the builder calls above must produce, field by field.
const expected: TopologyIR = {
  version: 1,
  name: 'pair',
  agents: [
    {
      name: 'thinker',
      model: { preset: 'tiny-96' },
      hiddenSize: 96,
      prompt: 'Think: {{question}} {{feedback}}',
      latentSteps: 8,
      innerLink: { variant: 'official', init: 'kaiming' },
      output: 'latent',
      tools: [],
    },
    {
      name: 'answerer',
      model: { path: './models/qwen' },
      hiddenSize: 128,
      prompt: 'Answer {{question}} using {{latent:thinker}}',
      latentSteps: 4,
      innerLink: { variant: 'paper', init: 'kaiming' },
      output: 'latent',
      tools: ['javascript'],
    },
  ],
  edges: [
    {
      from: 'thinker',
      to: 'answerer',
      kind: 'forward',
      transport: 'latent',
      outerLink: { variant: 'no-residual', init: 'ridge' },
    },
    {
      from: 'answerer',
      to: 'thinker',
      kind: 'feedback',
      transport: 'latent',
      outerLink: { variant: 'one-layer', init: 'kaiming' },
    },
  ],
  rounds: { max: 2, epsilon: 0.01 },
  decode: { agent: 'answerer', maxNewTokens: 64, temperature: 0.6, topP: 0.95, maxToolRounds: 5 },
};

describe('topology builder', () => {
  it('records agents, edges, rounds and the decoder as the IR', () => {
    const built = pair().build();
    expect(built.kind).toBe('rmas.topology');
    expect(toIR(built)).toEqual(expected);
    expect(validate(built)).toEqual([]);
  });

  it('applies the round default m only to agents without their own, whatever the call order', () => {
    const early = topology()
      .rounds({ latentSteps: 3 })
      .agent('a', { model: 'm', hiddenSize: 8, prompt: '{{question}}' })
      .decode('a')
      .build();
    const late = topology()
      .agent('a', { model: 'm', hiddenSize: 8, prompt: '{{question}}' })
      .rounds({ latentSteps: 3 })
      .decode('a')
      .build();
    expect(early.ir.agents[0]?.latentSteps).toBe(3);
    expect(late.ir.agents[0]?.latentSteps).toBe(3);
    expect(
      topology()
        .agent('a', { model: 'm', hiddenSize: 8, prompt: '{{question}}' })
        .decode('a')
        .build().ir,
    ).toMatchObject({ agents: [{ latentSteps: 32 }], rounds: { max: 3, epsilon: 0 } });
  });

  it('is immutable: a branch does not change the builder it came from', () => {
    const base = topology().agent('a', { model: 'm', hiddenSize: 8, prompt: '{{question}}' });
    const branch = base
      .agent('b', { model: 'm', hiddenSize: 8, prompt: '{{latent:a}}' })
      .edge('a', 'b');
    expect(base.toIR().agents.map((a) => a.name)).toEqual(['a']);
    expect(base.toIR().edges).toEqual([]);
    expect(branch.toIR().agents.map((a) => a.name)).toEqual(['a', 'b']);
  });

  it('freezes the built IR and hands out mutable copies', () => {
    const built = pair().build();
    expect(Object.isFrozen(built.ir)).toBe(true);
    expect(Object.isFrozen(built.ir.agents[0]?.innerLink)).toBe(true);
    const copy = toIR(built);
    copy.agents[0]!.hiddenSize = 1;
    expect(built.ir.agents[0]?.hiddenSize).toBe(96);
    expect(fromIR(copy).ir.agents[0]?.hiddenSize).toBe(1);
  });

  it('passes latents unchanged when the outer link is null', () => {
    const ir = topology()
      .agent('a', { model: 'm', hiddenSize: 8, prompt: '{{question}}' })
      .agent('b', { model: 'm', hiddenSize: 8, prompt: '{{latent:a}}' })
      .edge('a', 'b', { outerLink: null })
      .decode('b')
      .build().ir;
    expect(ir.edges[0]?.outerLink).toBeNull();
  });
});

describe('model references and links', () => {
  it('reads a string as a preset unless it looks like a path', () => {
    expect(modelRef('tiny-96')).toEqual({ preset: 'tiny-96' });
    expect(modelRef('Qwen2.5-0.5B')).toEqual({ preset: 'Qwen2.5-0.5B' });
    expect(modelRef('./models/qwen')).toEqual({ path: './models/qwen' });
    expect(modelRef('/data/llama')).toEqual({ path: '/data/llama' });
    expect(modelRef('~/models/smol')).toEqual({ path: '~/models/smol' });
    expect(modelRef('models\\qwen')).toEqual({ path: 'models\\qwen' });
    expect(modelRef({ path: 'tiny-96' })).toEqual({ path: 'tiny-96' });
  });

  it('fills link defaults', () => {
    expect(linkIR(undefined)).toEqual({ variant: 'official', init: 'kaiming' });
    expect(linkIR('paper')).toEqual({ variant: 'paper', init: 'kaiming' });
    expect(linkIR({ init: 'ridge' })).toEqual({ variant: 'official', init: 'ridge' });
  });
});

describe('loose builder', () => {
  it('builds names known only at run time, leaving the checks to validate', () => {
    const names = ['x', 'x'];
    let builder = looseTopology('loose');
    for (const name of names)
      builder = builder.agent(name, { model: 'm', hiddenSize: 8, prompt: '{{question}}' });
    const issues = validate(builder.decode('x').toIR());
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['duplicate-agent', ['agents', 1, 'name']],
    ]);
  });
});
