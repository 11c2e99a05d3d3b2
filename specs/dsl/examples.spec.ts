/**
 * The examples the README shows, kept here so that they stay true: each builds, validates, and
 * is differentiable in latent mode.
 */
import { describe, expect, it } from 'vitest';
import {
  deliberation,
  differentiability,
  distillation,
  mixture,
  sequential,
  toMermaid,
  topology,
  validate,
} from '../../dsl/index.ts';

describe('README examples', () => {
  it('sequential', () => {
    const t = sequential({
      planner: { model: 'tiny-96', hiddenSize: 96 },
      critic: { model: 'tiny-128', hiddenSize: 128 },
      solver: { model: './models/Qwen2.5-0.5B-Instruct', hiddenSize: 896 },
      rounds: { max: 3, latentSteps: 16, epsilon: 1e-3 },
      decode: { maxNewTokens: 256 },
    });
    expect(validate(t)).toEqual([]);
    expect(toMermaid(t.ir)).toContain('agent_solver ==> answer');
  });

  it('mixture', () => {
    const t = mixture({
      specialists: {
        math: { model: 'tiny-96', hiddenSize: 96 },
        code: { model: 'tiny-128', hiddenSize: 128 },
        science: { model: 'tiny-192', hiddenSize: 192 },
      },
      summarizer: { model: 'tiny-128', hiddenSize: 128 },
      rounds: { max: 2, latentSteps: 8 },
    });
    expect(validate(t)).toEqual([]);
  });

  it('distillation', () => {
    const t = distillation({
      expert: { model: 'tiny-192', hiddenSize: 192, latentSteps: 32 },
      learner: { model: 'tiny-96', hiddenSize: 96, latentSteps: 8 },
      rounds: { max: 3 },
    });
    expect(validate(t)).toEqual([]);
  });

  it('deliberation', () => {
    const t = deliberation({
      reflector: { model: 'tiny-128', hiddenSize: 128 },
      toolCaller: { model: 'tiny-128', hiddenSize: 128, tools: ['javascript', 'search'] },
      rounds: { max: 3, latentSteps: 16 },
      decode: { maxToolRounds: 5 },
    });
    expect(validate(t)).toEqual([]);
  });

  it('a custom topology with the builder', () => {
    const t = topology('review')
      .agent('drafter', {
        model: 'tiny-96',
        hiddenSize: 96,
        prompt: 'Draft: {{question}}\nNotes: {{feedback}}',
      })
      .agent('reviewer', {
        model: 'tiny-128',
        hiddenSize: 128,
        prompt: 'Review {{latent:drafter}}',
      })
      .agent('writer', {
        model: 'tiny-192',
        hiddenSize: 192,
        prompt: '{{question}} {{latent:reviewer}} {{latent:drafter}}',
      })
      .edge('drafter', 'reviewer')
      .edge('reviewer', 'writer', { outerLink: 'paper' })
      .edge('drafter', 'writer')
      .feedback('writer', 'drafter')
      .rounds({ max: 2, latentSteps: 8 })
      .decode('writer')
      .build();
    expect(validate(t)).toEqual([]);
    expect(differentiability(t.ir, 'latent').differentiable).toBe(true);
    expect(differentiability(t.ir, 'text').differentiable).toBe(false);
  });
});
