/**
 * Edge cases of the training path that the broad properties avoid on purpose: a batch of one
 * request (tfjs cannot differentiate a split into a single piece), and ridge-initialised outer
 * links on prompts made only of slots (no words to fit on).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { sequential, toIR } from '../../dsl/index.ts';
import { createLinks, disposeLinks } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { unrollRounds } from '../../runtime/unroll.ts';
import { tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const ir = (outerInit: 'kaiming' | 'ridge', prompts?: boolean) =>
  toIR(
    sequential({
      planner: {
        model: 'tiny-planner-96',
        hiddenSize: 96,
        ...(prompts ? { prompt: '{{question}}{{feedback}}' } : {}),
      },
      critic: {
        model: 'tiny-critic-128',
        hiddenSize: 128,
        ...(prompts ? { prompt: '{{question}}{{latent:planner}}' } : {}),
      },
      solver: {
        model: 'tiny-solver-192',
        hiddenSize: 192,
        ...(prompts ? { prompt: '{{question}}{{latent:critic}}' } : {}),
      },
      outerLink: { variant: 'official', init: outerInit },
      rounds: { max: 2, latentSteps: 2 },
      decode: { maxNewTokens: 4 },
    }),
  );

describe('unrollRounds edge cases', () => {
  it('differentiates a batch of one request: every link gets a finite gradient', () => {
    const topology = ir('kaiming');
    const agents = tinyAgentsFor(topology);
    const links = createLinks(topology, { seed: 5 });
    const before = tf.memory().numTensors; // agents and links are alive before and after
    const plan = buildPlan(topology, { agents, links, mode: 'latent' });
    const { value, grads } = tf.variableGrads(() => {
      const { inputsEmbeds } = unrollRounds(plan, ['What is 12 * 7?'], { rounds: 2 });
      return tf.sum(tf.square(inputsEmbeds)) as tf.Scalar;
    }, plan.variables);
    const norms = Object.values(grads).map((g) => tf.tidy(() => tf.norm(g).dataSync()[0]!));
    tf.dispose([value, ...Object.values(grads)]);
    expect(norms.length).toBe(plan.variables.length);
    for (const n of norms) expect(Number.isFinite(n)).toBe(true);
    expect(norms.some((n) => n > 0)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    disposeLinks(links);
  });

  it('ridge-initialises outer links when the prompts are only slots', () => {
    const topology = ir('ridge', true);
    const links = createLinks(topology, {
      seed: 5,
      agents: new Map(Object.entries(tinyAgentsFor(topology))),
    });
    const outer = [...links.keys()].filter((id) => id.startsWith('outer'));
    expect(outer.length).toBe(3);
    disposeLinks(links);
  });
});
