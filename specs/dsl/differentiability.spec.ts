import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topologyArbitrary } from '../../dsl/arbitraries.ts';
import {
  differentiability,
  executionOrder,
  type LinkGradient,
  sequential,
  type TopologyIR,
  toIR,
} from '../../dsl/index.ts';
import { agent, edge, ir, loop } from './fixtures.ts';
import { propertySettings } from './property.ts';

const seq = (rounds: number) =>
  toIR(
    sequential({
      planner: { model: 'm', hiddenSize: 8 },
      critic: { model: 'm', hiddenSize: 16 },
      solver: { model: 'm', hiddenSize: 24 },
      rounds: { max: rounds },
    }),
  );

const grad = (link: string, rounds: number[]): LinkGradient => ({
  link,
  receivesGradient: rounds.length > 0,
  rounds,
});

describe('differentiability: discrete steps', () => {
  it('reports latent mode as differentiable for the sequential pattern', () => {
    const report = differentiability(seq(3), 'latent');
    expect(report.differentiable).toBe(true);
    expect(report.reasons).toEqual([]);
  });

  it('reports text mode as non-differentiable, naming every hand-off', () => {
    const report = differentiability(seq(3), 'text');
    expect(report.differentiable).toBe(false);
    expect(report.reasons.map((r) => [r.edge, r.path, r.steps])).toEqual([
      ['planner->critic', ['edges', 0], ['argmax', 'tokenisation']],
      ['critic->solver', ['edges', 1], ['argmax', 'tokenisation']],
      ['solver->planner (feedback)', ['edges', 2], ['argmax', 'tokenisation']],
    ]);
    // Text mode applies no links, so none is trained.
    expect(report.links.every((l) => !l.receivesGradient && l.rounds.length === 0)).toBe(true);
    expect(report.links).toHaveLength(6);
  });

  it('says sampling rather than argmax when decoding samples', () => {
    const t = loop();
    t.decode.temperature = 0.6;
    expect(differentiability(t, 'text').reasons[0]?.steps).toEqual(['sampling', 'tokenisation']);
  });

  it('finds a text edge in latent mode, and the agent that decodes mid-graph', () => {
    const t = ir(
      [
        agent('a', '{{question}}'),
        agent('b', '{{latent:a}}', { output: 'text' }),
        agent('c', '{{latent:b}}'),
      ],
      [edge('a', 'b', 'forward', { transport: 'text' }), edge('b', 'c')],
      'c',
    );
    const report = differentiability(t, 'latent');
    expect(report.differentiable).toBe(false);
    expect(report.reasons.map((r) => [r.edge, r.steps])).toEqual([
      ['a->b', ['argmax', 'tokenisation']],
      ['b->c', ['argmax']],
    ]);
  });
});

describe('differentiability: which links the loss reaches (hand-computed)', () => {
  it('sequential, 3 rounds: every link, the solver and feedback links only before the last round', () => {
    // Round 3: solver decodes (loss) from critic@3 <- planner@3 <- feedback from solver@2.
    // The solver rolls out latents only in rounds 1 and 2 (it decodes in round 3).
    expect(differentiability(seq(3), 'latent').links).toEqual([
      grad('inner:planner', [1, 2, 3]),
      grad('inner:critic', [1, 2, 3]),
      grad('inner:solver', [1, 2]),
      grad('outer:planner->critic', [1, 2, 3]),
      grad('outer:critic->solver', [1, 2, 3]),
      grad('outer:solver->planner', [1, 2]),
    ]);
  });

  it('sequential, 1 round: the feedback link and the solver inner link get nothing', () => {
    expect(differentiability(seq(1), 'latent').links).toEqual([
      grad('inner:planner', [1]),
      grad('inner:critic', [1]),
      grad('inner:solver', []),
      grad('outer:planner->critic', [1]),
      grad('outer:critic->solver', [1]),
      grad('outer:solver->planner', []),
    ]);
  });

  it('a text hand-off cuts the gradient to everything upstream', () => {
    const t = ir(
      [agent('a', '{{question}}'), agent('b', '{{latent:a}}'), agent('c', '{{latent:b}}')],
      [edge('a', 'b', 'forward', { transport: 'text' }), edge('b', 'c')],
      'c',
      1,
    );
    expect(differentiability(t, 'latent').links).toEqual([
      grad('inner:a', []),
      grad('inner:b', [1]),
      grad('inner:c', []),
      grad('outer:a->b', []),
      grad('outer:b->c', [1]),
    ]);
  });

  it('an agent reaching the decoder only through feedback needs two rounds', () => {
    // x feeds a only via feedback a<-x... here: a -> b (decoder); x -> y, y feeds a back.
    const t = ir(
      [
        agent('a', '{{question}} {{feedback}}'),
        agent('b', '{{latent:a}}'),
        agent('x', '{{question}}'),
        agent('y', '{{latent:x}} {{latent:a}}'),
      ],
      [
        edge('a', 'b'),
        edge('x', 'y'),
        edge('a', 'y'),
        edge('y', 'a', 'feedback', { outerLink: null }),
      ],
      'b',
      2,
    );
    expect(differentiability(t, 'latent').links).toEqual([
      grad('inner:a', [1, 2]),
      grad('inner:b', []),
      grad('inner:x', [1]),
      grad('inner:y', [1]),
      grad('outer:a->b', [2]),
      grad('outer:x->y', [1]),
      grad('outer:a->y', [1]),
    ]);
  });
});

/**
 * An independent reference: run the rounds forwards, in execution order, carrying for every value
 * the set of (link, round) it depends on differentiably; the loss depends on the decoder's
 * final-round input. (The analysis under test walks backwards to a fixpoint instead.)
 */
function forwardDependencies(t: TopologyIR): Map<string, number[]> {
  const n = t.rounds.max;
  const decoder = t.decode.agent;
  const output = new Map<string, Set<string>>(); // `${agent}@${round}` -> deps
  let lossDeps = new Set<string>();
  for (let round = 1; round <= n; round++) {
    for (const name of executionOrder(t)) {
      const input = new Set<string>();
      for (const e of t.edges.filter((e) => e.to === name)) {
        const from = e.kind === 'feedback' ? round - 1 : round;
        const carried = output.get(`${e.from}@${from}`);
        if (carried === undefined) continue; // round 0, or a decoder that decoded
        for (const d of carried) input.add(d);
        if (e.outerLink !== null) input.add(`outer:${e.from}->${e.to}#${from}`);
      }
      if (name === decoder && round === n) {
        lossDeps = input;
        continue;
      }
      output.set(`${name}@${round}`, new Set([...input, `inner:${name}#${round}`]));
    }
  }
  const rounds = new Map<string, number[]>();
  for (const dep of lossDeps) {
    const [link, round] = dep.split('#') as [string, string];
    rounds.set(
      link,
      [...(rounds.get(link) ?? []), Number(round)].sort((a, b) => a - b),
    );
  }
  return rounds;
}

describe('differentiability: properties', () => {
  it('every generated topology is differentiable in latent mode and not in text mode (when it has edges)', () => {
    fc.assert(
      fc.property(topologyArbitrary(), (t) => {
        expect(differentiability(t, 'latent').differentiable).toBe(true);
        const text = differentiability(t, 'text');
        expect(text.differentiable).toBe(t.edges.length === 0);
        expect(text.reasons.map((r) => r.path)).toEqual(t.edges.map((_, i) => ['edges', i]));
      }),
      propertySettings('differentiability by mode', 150),
    );
  });

  it('the links the loss reaches, and through which rounds, match a forward dependency run', () => {
    fc.assert(
      fc.property(topologyArbitrary(), (t) => {
        const expected = forwardDependencies(t);
        for (const { link, receivesGradient, rounds } of differentiability(t, 'latent').links) {
          expect({ link, rounds }).toEqual({ link, rounds: expected.get(link) ?? [] });
          expect(receivesGradient).toBe(expected.has(link));
        }
      }),
      propertySettings('link gradients vs forward dependencies', 200),
    );
  });
});
