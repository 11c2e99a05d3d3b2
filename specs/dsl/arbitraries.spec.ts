import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type TopologyKind, topologyArbitrary } from '../../dsl/arbitraries.ts';
import { validate } from '../../dsl/index.ts';
import { propertySettings } from './property.ts';

describe('topologyArbitrary', () => {
  it('generates only valid topologies within the default bounds', () => {
    fc.assert(
      fc.property(topologyArbitrary(), (t) => {
        expect(validate(t)).toEqual([]);
        expect(t.rounds.max).toBeGreaterThanOrEqual(1);
        expect(t.rounds.max).toBeLessThanOrEqual(4);
        for (const a of t.agents) {
          expect([8, 16, 24, 32, 40, 48, 56, 64]).toContain(a.hiddenSize);
          expect(a.latentSteps).toBeGreaterThanOrEqual(1);
          expect(a.latentSteps).toBeLessThanOrEqual(8);
        }
      }),
      propertySettings('arbitrary topologies are valid', 200),
    );
  });

  it('respects its constraints', () => {
    const arbitrary = topologyArbitrary({
      kinds: ['free'],
      hiddenSizes: [12, 20],
      rounds: { min: 2, max: 2 },
      latentSteps: { min: 3, max: 3 },
      agents: { min: 4, max: 4 },
      model: (d) => ({ path: `./m${d}` }),
    });
    fc.assert(
      fc.property(arbitrary, (t) => {
        expect(validate(t)).toEqual([]);
        expect(t.rounds.max).toBe(2);
        expect(t.agents).toHaveLength(4);
        for (const a of t.agents) {
          expect([12, 20]).toContain(a.hiddenSize);
          expect(a.latentSteps).toBe(3);
          expect(a.model).toEqual({ path: `./m${a.hiddenSize}` });
        }
      }),
      propertySettings('arbitrary constraints', 100),
    );
  });

  it('covers the four patterns and free-form graphs with feedback', () => {
    const { seed } = propertySettings('arbitrary coverage', 1);
    const samples = fc.sample(topologyArbitrary(), { seed, numRuns: 300 });
    const patterns = ['sequential', 'mixture', 'distillation', 'deliberation'];
    const kindOf = (name: string): TopologyKind =>
      patterns.includes(name) ? (name as TopologyKind) : 'free';
    const seen = new Set(samples.map((t) => kindOf(t.name)));
    expect([...seen].sort()).toEqual([
      'deliberation',
      'distillation',
      'free',
      'mixture',
      'sequential',
    ]);
    const free = samples.filter((t) => kindOf(t.name) === 'free');
    expect(free.some((t) => t.edges.some((e) => e.kind === 'feedback'))).toBe(true);
    expect(free.some((t) => t.agents.length >= 4)).toBe(true);
    expect(free.some((t) => t.edges.some((e) => e.outerLink === null))).toBe(true);
  });
});
