/**
 * Early stopping on convergence: the change measure by hand, and on real agents the request stops
 * as soon as the feedback latents move less than epsilon (here: after round 2, the first round with
 * something to compare), answering from the round just run, exactly as the interpreter does.
 */
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distillation, toIR } from '../../dsl/index.ts';
import { compile } from '../../runtime/compile.ts';
import { changeOfFeedback } from '../../runtime/convergence.ts';
import { interpret } from '../../runtime/interpreter.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import { initialState } from '../../runtime/state.ts';
import { tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

describe('changeOfFeedback', () => {
  const request = { requestId: 'c', input: '' };

  it('is the relative L2 change over all feedback sources, undefined in round 1', () => {
    // a: [3, 4] -> [3, 5]; b: [0, 0] -> [2, 0]. |diff|² = 1 + 4 = 5, |before|² = 25 + 0 = 25.
    const [a0, a1, b0, b1] = [
      tf.tensor2d([[3, 4]]),
      tf.tensor2d([[3, 5]]),
      tf.tensor2d([[0, 0]]),
      tf.tensor2d([[2, 0]]),
    ];
    const state = {
      ...initialState(request),
      round: 2,
      thoughts: { a: a1, b: b1 },
      fedBack: { a: a0, b: b0 },
    };
    expect(changeOfFeedback(state, ['a', 'b'], 'latent')).toBeCloseTo(Math.sqrt(5 / 25), 6);
    expect(changeOfFeedback({ ...state, round: 1 }, ['a', 'b'], 'latent')).toBeUndefined();
    expect(changeOfFeedback(state, [], 'latent')).toBeUndefined();
    tf.dispose([a0, a1, b0, b1]);
  });

  it('in text mode is 0 when every feedback text repeated, else 1', () => {
    const state = {
      ...initialState(request),
      round: 3,
      texts: { a: 'x', b: 'y' },
      fedBackTexts: { a: 'x', b: 'y' },
    };
    expect(changeOfFeedback(state, ['a', 'b'], 'text')).toBe(0);
    expect(changeOfFeedback({ ...state, texts: { a: 'x', b: 'z' } }, ['a', 'b'], 'text')).toBe(1);
  });
});

describe('early stop on real agents', () => {
  const irWith = (epsilon: number) =>
    toIR(
      distillation({
        expert: { model: 'tiny-critic-128', hiddenSize: 128 },
        learner: { model: 'tiny-planner-96', hiddenSize: 96 },
        rounds: { max: 4, epsilon, latentSteps: 2 },
        decode: { maxNewTokens: 4 },
      }),
    );
  let links: LinkSet;
  beforeAll(() => {
    links = createLinks(irWith(0), { seed: 8 });
  });
  afterAll(() => disposeLinks(links));

  it.each([
    ['a huge epsilon stops after round 2', 1e9, 2],
    ['a tiny epsilon runs every round', 1e-12, 4],
  ])('%s', async (_, epsilon, rounds) => {
    const ir = irWith(epsilon);
    const agents = tinyAgentsFor(ir);
    const requests = [
      { requestId: 'e0', input: 'Sum 1 to 10.' },
      { requestId: 'e1', input: 'Spell cat.' },
    ];
    const answers = await lastValueFrom(
      from(requests).pipe(compile(ir, { agents, links }), toArray()),
    );
    for (const r of requests) {
      const expected = await interpret(ir, r, { agents, links, mode: 'latent' });
      const got = answers.find((a) => a.requestId === r.requestId)!;
      expect({ text: got.text, rounds: got.rounds }).toEqual({ text: expected.text, rounds });
      // Stopping early, the learner rolled out in round 2 and then decoded from that round.
      const learner = got.usage.filter((u) => u.agent === 'learner' && u.round === rounds);
      expect(learner.length).toBe(1);
      expect(learner[0]!.generatedTokens).toBeGreaterThan(0);
      expect(learner[0]!.latentSteps).toBe(rounds < 4 ? 2 : 0);
    }
  });
});
