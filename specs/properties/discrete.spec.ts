import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topologyArbitrary } from '../../arbitraries/index.ts';
import {
  assertValid,
  differentiability,
  edgeId,
  outerLinkId,
  TopologyError,
  type TopologyIR,
  validate,
} from '../../dsl/index.ts';
import { compile } from '../../runtime/compile.ts';
import { RuntimeError } from '../../runtime/errors.ts';
import { propertyConfig } from './config.ts';

// The compile-time half of issue 9: a latent hand-off that crosses a discrete step (argmax or
// sampling when an agent decodes text, tokenisation when text is read back) carries no gradient,
// so the DSL rejects it and names the edge; text mode is never reported differentiable.

type Switch = { kind: 'edge'; index: number } | { kind: 'agent'; name: string };

/** A valid topology with one discrete step put in: an edge carries text, or an agent emits text. */
const discreteTopology = topologyArbitrary()
  .filter((ir) => ir.edges.length > 0)
  .chain((ir) =>
    fc
      .oneof(
        fc.nat(ir.edges.length - 1).map((index): Switch => ({ kind: 'edge', index })),
        fc
          .constantFrom(...ir.edges.map((e) => e.from))
          .map((name): Switch => ({ kind: 'agent', name })),
      )
      .map((change) => ({ ir: applySwitch(ir, change), change })),
  );

function applySwitch(ir: TopologyIR, change: Switch): TopologyIR {
  const copy = structuredClone(ir);
  if (change.kind === 'edge') copy.edges[change.index]!.transport = 'text';
  else for (const agent of copy.agents) if (agent.name === change.name) agent.output = 'text';
  return copy;
}

const STEP_WORDS = {
  argmax: 'argmax decoding',
  sampling: 'sampling',
  tokenisation: 'tokenisation',
};

/** The discrete steps on each edge, worked out from the IR alone (not from dsl/graph.ts). */
function expectedDiscreteEdges(ir: TopologyIR): Map<number, string[]> {
  const decoding = ir.decode.temperature === 0 ? 'argmax' : 'sampling';
  const emitsText = new Set(ir.agents.filter((a) => a.output === 'text').map((a) => a.name));
  const expected = new Map<number, string[]>();
  ir.edges.forEach((edge, i) => {
    const steps = new Set<string>();
    if (emitsText.has(edge.from)) steps.add(decoding);
    if (edge.transport === 'text') {
      steps.add(decoding);
      steps.add('tokenisation');
    }
    if (steps.size > 0) expected.set(i, [...steps]);
  });
  return expected;
}

describe('discrete steps are caught at compile time', () => {
  it('validate names exactly the hand-offs that cross argmax, sampling or tokenisation', () => {
    fc.assert(
      fc.property(discreteTopology, ({ ir, change }) => {
        const expected = expectedDiscreteEdges(ir);
        // The switched edge, or every edge out of the switched agent, is among them.
        if (change.kind === 'edge') expect(expected.has(change.index)).toBe(true);
        else
          ir.edges.forEach((e, i) => {
            if (e.from === change.name) expect(expected.has(i)).toBe(true);
          });
        const issues = validate(ir);
        const discrete = issues.filter((issue) => issue.code === 'discrete-latent-edge');
        expect(discrete.map((issue) => issue.path)).toEqual(
          [...expected.keys()].map((i) => ['edges', i]),
        );
        for (const issue of discrete) {
          const index = issue.path[1] as number;
          const edge = ir.edges[index]!;
          expect(issue.message).toContain(edgeId(edge));
          for (const step of expected.get(index)!) {
            expect(issue.message).toContain(STEP_WORDS[step as keyof typeof STEP_WORDS]);
          }
        }
        // Nothing else is wrong with the topology: the discrete steps are the only issues.
        expect(issues.length).toBe(discrete.length);
        // assertValid refuses it with the edge named in the thrown error.
        let thrown: unknown;
        try {
          assertValid(ir);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(TopologyError);
        for (const i of expected.keys()) {
          expect((thrown as Error).message).toContain(edgeId(ir.edges[i]!));
        }
      }),
      propertyConfig('a discrete latent edge is rejected, named', 150),
    );
  });

  it('compile refuses it in latent mode before running anything, naming the edge', () => {
    fc.assert(
      fc.property(discreteTopology, ({ ir }) => {
        let thrown: unknown;
        try {
          compile(ir, { mode: 'latent' });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(RuntimeError);
        expect((thrown as RuntimeError).code).toBe('INVALID_TOPOLOGY');
        for (const i of expectedDiscreteEdges(ir).keys()) {
          expect((thrown as Error).message).toContain(edgeId(ir.edges[i]!));
        }
      }),
      propertyConfig('compile refuses a discrete latent edge', 100),
    );
  });

  it('the analysis reports it non-differentiable, and no gradient crosses the discrete edge', () => {
    fc.assert(
      fc.property(discreteTopology, ({ ir }) => {
        const expected = expectedDiscreteEdges(ir);
        const report = differentiability(ir, 'latent');
        expect(report.differentiable).toBe(false);
        expect(report.reasons.map((r) => r.edge)).toEqual(
          [...expected.keys()].map((i) => edgeId(ir.edges[i]!)),
        );
        // A text edge applies no outer link: the loss cannot reach it.
        for (const i of expected.keys()) {
          const edge = ir.edges[i]!;
          if (edge.transport !== 'text' || edge.outerLink === null) continue;
          const link = report.links.find((l) => l.link === outerLinkId(edge));
          expect(link).toEqual({ link: outerLinkId(edge), receivesGradient: false, rounds: [] });
        }
      }),
      propertyConfig('discrete edges cut the gradient', 150),
    );
  });

  it('text mode is non-differentiable for every topology with a hand-off, every hand-off named', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          topologyArbitrary(),
          discreteTopology.map(({ ir }) => ir),
        ),
        (ir) => {
          const report = differentiability(ir, 'text');
          expect(report.differentiable).toBe(ir.edges.length === 0);
          expect(report.reasons.map((r) => r.edge)).toEqual(ir.edges.map((e) => edgeId(e)));
          for (const reason of report.reasons) expect(reason.steps).toContain('tokenisation');
          // Text mode trains no link.
          expect(report.links.filter((l) => l.receivesGradient)).toEqual([]);
        },
      ),
      propertyConfig('text mode is not differentiable', 150),
    );
  });
});
