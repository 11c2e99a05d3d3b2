/**
 * The links a topology needs, made from a seed, saved and loaded by link id, and checked.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sequential, toIR } from '../../dsl/index.ts';
import {
  checkLinks,
  createLinks,
  disposeLinks,
  linkFileStem,
  linkRequirements,
  loadLinks,
  saveLinks,
} from '../../runtime/links.ts';

const ir = toIR(
  sequential({
    planner: { model: 'tiny-planner-96', hiddenSize: 96, innerLink: 'paper' },
    critic: { model: 'tiny-critic-128', hiddenSize: 128 },
    solver: { model: 'tiny-solver-192', hiddenSize: 192, innerLink: 'one-layer' },
    outerLink: 'residual-one-layer',
  }),
);

let baseline = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(baseline);
});

describe('links of a topology', () => {
  it('lists one inner link per agent and one outer link per edge, with their shapes', () => {
    expect(linkRequirements(ir).map((l) => [l.id, l.variant, l.inDim, l.outDim])).toEqual([
      ['inner:planner', 'res_adapter', 96, 96],
      ['inner:critic', 'ln_res_adapter', 128, 128],
      ['inner:solver', 'linear_adapter', 192, 192],
      ['outer:planner->critic', 'outer_linear_res_adapter', 96, 128],
      ['outer:critic->solver', 'outer_linear_res_adapter', 128, 192],
      ['outer:solver->planner', 'outer_linear_res_adapter', 192, 96],
    ]);
    expect(linkFileStem('outer:solver->planner')).toBe('outer.solver.planner');
    expect(linkFileStem('inner:planner')).toBe('inner.planner');
  });

  it('makes the same weights from the same seed, different ones from another', () => {
    const sum = (seed: number, id = 'outer:planner->critic') => {
      const links = createLinks(ir, { seed });
      const value = tf.tidy(() => tf.sum(tf.abs(links.get(id)!.proj1.weight)).dataSync()[0]!);
      disposeLinks(links);
      return value;
    };
    expect(sum(3)).toBe(sum(3));
    expect(sum(3)).not.toBe(sum(4));
    // Seed 0 too (tfjs would draw the first link's first weight from Math.random under seed 0).
    expect(sum(0, 'inner:planner')).toBe(sum(0, 'inner:planner'));
  });

  it('saves under the link ids and loads back the same weights', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rmas-links-'));
    const links = createLinks(ir, { seed: 6 });
    try {
      await saveLinks(links, dir);
      expect(
        readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .sort(),
      ).toEqual([
        'inner.critic.json',
        'inner.planner.json',
        'inner.solver.json',
        'outer.critic.solver.json',
        'outer.planner.critic.json',
        'outer.solver.planner.json',
      ]);
      const loaded = await loadLinks(ir, dir);
      for (const [id, link] of links) {
        const twin = loaded.get(id)!;
        expect(twin.variant).toBe(link.variant);
        for (const [name, v] of link.namedParameters()) {
          expect(twin.namedParameters().get(name)!.arraySync()).toEqual(v.arraySync());
        }
      }
      disposeLinks(loaded);
    } finally {
      disposeLinks(links);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing or misshapen link', () => {
    const links = createLinks(ir, { seed: 1 });
    try {
      const missing = new Map(links);
      missing.delete('outer:critic->solver');
      expect(() => checkLinks(ir, missing)).toThrow('link outer:critic->solver is missing');
      const swapped = new Map(links);
      swapped.set('outer:critic->solver', links.get('outer:planner->critic')!);
      expect(() => checkLinks(ir, swapped)).toThrow(
        'link outer:critic->solver must be outer 128->192, got outer 96->128',
      );
    } finally {
      disposeLinks(links);
    }
  });
});
