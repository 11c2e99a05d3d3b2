/**
 * `unrollRounds`: the plan's stages as one differentiable computation. Gradients reach exactly
 * the links the DSL's differentiability analysis says they reach (an independent walk over the
 * IR), and the decoder input it returns is the one the compiled runtime decodes from: greedy
 * decoding from it gives the compiled answer.
 */
import * as tf from '@tensorflow/tfjs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiability } from '../../dsl/differentiability.ts';
import { mixture, sequential, toIR } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { compile } from '../../runtime/compile.ts';
import { createLinks, disposeLinks, type LinkSet } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { unrollRounds } from '../../runtime/unroll.ts';
import { tinyAgentsFor, useTinyAgents } from './tinyAgents.ts';

useTinyAgents();

const decode = { maxNewTokens: 5 };
const seq = (max: number) =>
  toIR(
    sequential({
      planner: { model: 'tiny-planner-96', hiddenSize: 96 },
      critic: { model: 'tiny-critic-128', hiddenSize: 128 },
      solver: { model: 'tiny-solver-192', hiddenSize: 192 },
      rounds: { max, latentSteps: 2 },
      decode,
    }),
  );
const mix = toIR(
  mixture({
    specialists: {
      math: { model: 'tiny-planner-96', hiddenSize: 96 },
      code: { model: 'tiny-critic-128', hiddenSize: 128 },
    },
    summarizer: { model: 'tiny-critic-128', hiddenSize: 128 },
    rounds: { max: 2, latentSteps: 2 },
    decode,
  }),
);

const questions = ['What is 12 * 7?', 'Is 91 prime?'];

/** Link id -> whether the loss's gradient w.r.t. any of its variables is nonzero. */
function gradientReach(ir: TopologyIR, links: LinkSet, rounds: number): Record<string, boolean> {
  const plan = buildPlan(ir, { agents: tinyAgentsFor(ir), links, mode: 'latent' });
  const owner = new Map<tf.Variable, string>();
  for (const [id, link] of links) for (const v of link.variables) owner.set(v, id);
  const { value, grads } = tf.variableGrads(() => {
    const { inputsEmbeds, attentionMask } = unrollRounds(plan, questions, { rounds });
    // Any smooth function of the decoder's (unpadded) input will do.
    const weights = tf.randomNormal(inputsEmbeds.shape, 0, 1, 'float32', 7);
    return tf.sum(tf.mul(tf.mul(inputsEmbeds, weights), attentionMask.expandDims(2))) as tf.Scalar;
  }, plan.variables);
  const reach: Record<string, boolean> = Object.fromEntries(
    [...links.keys()].map((id) => [id, false]),
  );
  for (const [name, grad] of Object.entries(grads)) {
    const variable = plan.variables.find((v) => v.name === name)!;
    if (tf.tidy(() => tf.any(tf.notEqual(grad, 0)).dataSync()[0]) === 1)
      reach[owner.get(variable)!] = true;
  }
  tf.dispose([value, ...Object.values(grads)]);
  return reach;
}

describe('gradients through the unrolled rounds', () => {
  it.each([
    ['sequential, 1 round', seq(1), 1],
    ['sequential, 2 rounds', seq(2), 2],
    ['mixture, 2 rounds', mix, 2],
  ] as const)(
    '%s: reach exactly the links the differentiability analysis names',
    (_, ir, rounds) => {
      const links = createLinks(ir, { seed: 11 });
      try {
        const expected = Object.fromEntries(
          differentiability(ir, 'latent').links.map((l) => [l.link, l.receivesGradient]),
        );
        expect(gradientReach(ir, links, rounds)).toEqual(expected);
        // The analysis is not trivially all-true: one round never reaches the feedback link.
        if (rounds === 1) expect(expected['outer:solver->planner']).toBe(false);
      } finally {
        disposeLinks(links);
      }
    },
  );
});

describe('the unrolled dataflow is the compiled one', () => {
  const ir = seq(2);
  let links: LinkSet;
  beforeAll(() => {
    links = createLinks(ir, { seed: 12 });
  });
  afterAll(() => disposeLinks(links));

  it('decoding greedily from the unrolled decoder input gives the compiled answers', async () => {
    const agents = tinyAgentsFor(ir);
    const compiled = await lastValueFrom(
      from(questions.map((input, i) => ({ requestId: `unroll-${i}`, input }))).pipe(
        compile(ir, { agents, links }),
        toArray(),
      ),
    );
    const plan = buildPlan(ir, { agents, links, mode: 'latent' });
    const solver = agents.solver!;
    for (const differentiable of [true, false]) {
      const ids = tf.tidy(() => {
        const { inputsEmbeds, attentionMask } = unrollRounds(plan, questions, { differentiable });
        return solver.model.generate(
          { inputsEmbeds, attentionMask },
          { maxNewTokens: decode.maxNewTokens, temperature: 0 },
        );
      }) as unknown as number[][];
      const texts = ids.map((row) => solver.tokenizer.decode(row, { skipSpecialTokens: true }));
      const byId = (i: number) => compiled.find((a) => a.requestId === `unroll-${i}`)!.text;
      expect(texts).toEqual([byId(0), byId(1)]);
    }
  });

  it('with everyRound, round r of a long unroll gives what an unroll of r rounds gives', () => {
    const plan = buildPlan(ir, { agents: tinyAgentsFor(ir), links, mode: 'latent' });
    const gaps = tf.tidy(() => {
      const { decoderInputs } = unrollRounds(plan, questions, {
        everyRound: true,
        differentiable: false,
      });
      expect(decoderInputs!.length).toBe(2);
      return [1, 2].map((r) => {
        const alone = unrollRounds(plan, questions, { rounds: r, differentiable: false });
        const got = decoderInputs![r - 1]!;
        expect(got.attentionMask.arraySync()).toEqual(alone.attentionMask.arraySync());
        return tf.max(tf.abs(tf.sub(got.inputsEmbeds, alone.inputsEmbeds))).dataSync()[0]!;
      });
    });
    expect(gaps).toEqual([0, 0]);
  });

  it('returns per-round thoughts of every agent that ran, [m, d] per request', () => {
    const plan = buildPlan(ir, { agents: tinyAgentsFor(ir), links, mode: 'latent' });
    const shapes = tf.tidy(() => {
      const { rounds, inputsEmbeds, attentionMask, variables } = unrollRounds(plan, questions);
      expect(variables.length).toBe(plan.variables.length);
      expect(inputsEmbeds.shape[0]).toBe(2);
      expect(attentionMask.shape).toEqual(inputsEmbeds.shape.slice(0, 2));
      return rounds.map((r) =>
        Object.fromEntries(Object.entries(r).map(([a, rows]) => [a, rows.map((t) => t.shape)])),
      );
    });
    const two = (d: number) => [
      [2, d],
      [2, d],
    ];
    expect(shapes).toEqual([
      { planner: two(96), critic: two(128), solver: two(192) },
      { planner: two(96), critic: two(128) },
    ]);
  });
});
