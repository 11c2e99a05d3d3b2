import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topologyArbitrary } from '../../dsl/arbitraries.ts';
import { IR_VERSION, parseIR, toIR, validate } from '../../dsl/index.ts';
import { agent, edge, ir, loop } from './fixtures.ts';
import { propertySettings } from './property.ts';

describe('parseIR', () => {
  it('round-trips any valid topology through JSON text', () => {
    fc.assert(
      fc.property(topologyArbitrary(), (t) => {
        const text = JSON.stringify(t);
        const parsed = parseIR(text);
        expect(parsed).toEqual({ ok: true, ir: t, issues: [] });
        // And the parsed IR serialises to the same text.
        if (parsed.ok) expect(JSON.stringify(toIR(parsed.ir))).toBe(text);
      }),
      propertySettings('IR JSON round trip', 150),
    );
  });

  it('fills left-out optional fields with their defaults', () => {
    const minimal = {
      version: 1,
      agents: [
        { name: 'a', model: { preset: 'm' }, hiddenSize: 8, prompt: '{{question}} {{feedback}}' },
        { name: 'b', model: { path: './b' }, hiddenSize: 8, prompt: '{{latent:a}}' },
      ],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'a', kind: 'feedback', outerLink: null },
      ],
      decode: { agent: 'b' },
    };
    const link = { variant: 'official', init: 'kaiming' };
    const full = {
      version: 1,
      name: 'topology',
      agents: [
        { ...minimal.agents[0], latentSteps: 32, innerLink: link, output: 'latent', tools: [] },
        { ...minimal.agents[1], latentSteps: 32, innerLink: link, output: 'latent', tools: [] },
      ],
      edges: [
        { from: 'a', to: 'b', kind: 'forward', transport: 'latent', outerLink: link },
        { from: 'b', to: 'a', kind: 'feedback', transport: 'latent', outerLink: null },
      ],
      rounds: { max: 3, epsilon: 0 },
      decode: { agent: 'b', maxNewTokens: 256, temperature: 0, topP: 1, maxToolRounds: 5 },
    };
    expect(parseIR(minimal)).toEqual({ ok: true, ir: full, issues: [] });
  });

  it('reports text that is not JSON', () => {
    const result = parseIR('{"version": 1,');
    expect(result.ok).toBe(false);
    expect(result.issues.map((i) => [i.code, i.path])).toEqual([['invalid-shape', []]]);
    expect(result.issues[0]?.message).toMatch(/^not JSON: /);
  });

  it('reports an unknown version', () => {
    expect(parseIR({ ...loop(), version: IR_VERSION + 1 })).toEqual({
      ok: false,
      issues: [
        {
          code: 'unsupported-version',
          path: ['version'],
          message: `IR version ${IR_VERSION + 1} is not supported; this rmas reads version ${IR_VERSION}`,
        },
      ],
    });
  });

  it('gives zod paths for shape errors', () => {
    const json = { ...loop(), edges: [{ ...edge('a', 'b'), outerLink: { variant: 'two-layer' } }] };
    const result = parseIR(json);
    expect(result.issues.map((i) => [i.code, i.path])).toEqual([
      ['invalid-shape', ['edges', 0, 'outerLink', 'variant']],
    ]);
  });

  it('runs validate on what parses, e.g. unfilled slots in IR from JSON', () => {
    const json = JSON.stringify(ir([agent('a', '{{question}} {{latent:b}}')], [], 'a'));
    const result = parseIR(json);
    expect(result.ok).toBe(false);
    expect(result.issues).toEqual(validate(JSON.parse(json)));
    expect(result.issues.map((i) => i.code)).toEqual(['unfilled-slot']);
  });
});
