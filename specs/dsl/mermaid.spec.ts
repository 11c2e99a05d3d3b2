import { describe, expect, it } from 'vitest';
import { sequential, toIR, toMermaid } from '../../dsl/index.ts';
import { agent, edge, ir } from './fixtures.ts';

describe('toMermaid', () => {
  it('draws the sequential pattern', () => {
    const t = sequential({
      planner: { model: 'tiny-96', hiddenSize: 96 },
      critic: { model: 'tiny-128', hiddenSize: 128, latentSteps: 8 },
      solver: { model: './models/solver', hiddenSize: 192 },
      outerLink: 'paper',
    });
    expect(toMermaid(toIR(t))).toBe(
      [
        'flowchart LR',
        '  %% sequential · up to 3 round(s) · epsilon 0',
        '  question(["question"])',
        '  agent_planner["planner<br/>tiny-96 · d=96 · m=32"]',
        '  agent_critic["critic<br/>tiny-128 · d=128 · m=8"]',
        '  agent_solver[["solver (decodes)<br/>./models/solver · d=192 · m=32"]]',
        '  answer(["answer"])',
        '  question --> agent_planner',
        '  question --> agent_critic',
        '  question --> agent_solver',
        '  agent_planner -->|"paper"| agent_critic',
        '  agent_critic -->|"paper"| agent_solver',
        '  agent_solver -.->|"feedback · paper"| agent_planner',
        '  agent_solver ==> answer',
        '',
      ].join('\n'),
    );
  });

  it('marks identity links, discrete hand-offs, tools, and escapes quotes', () => {
    const t = ir(
      [
        agent('a', '{{question}} {{feedback}}'),
        agent('end', '{{latent:a}}', { tools: ['search'], model: { preset: 'say "hi" #1' } }),
      ],
      [
        edge('a', 'end', 'forward', { transport: 'text' }),
        edge('end', 'a', 'feedback', { outerLink: null }),
      ],
      'end',
    );
    const text = toMermaid(t);
    expect(text).toContain(
      '  agent_end[["end (decodes)<br/>say #quot;hi#quot; #35;1 · d=8 · m=2<br/>tools: search"]]',
    );
    expect(text).toContain('  agent_a -->|"official · ✗ argmax + tokenisation"| agent_end');
    expect(text).toContain('  agent_end -.->|"feedback · identity"| agent_a');
  });
});
