import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { OperatorError } from '../../operators/errors.ts';
import { gelu as geluTensor } from '../../operators/links/gelu.ts';
import {
  applyLink,
  createRecursiveLink,
  INNER_LINK_VARIANTS,
  type LinkVariant,
  normalizeLinkVariant,
  OUTER_LINK_VARIANTS,
  type RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import * as hand from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

/** Sets every parameter of a link to seeded values and returns them as plain arrays. */
function fillLink(link: RecursiveLink, seed: number): Map<string, number[] | number[][]> {
  console.log(`fillLink seed=${seed} variant=${link.variant}`);
  const next = hand.seededValues(seed);
  const values = new Map<string, number[] | number[][]>();
  for (const [name, v] of link.namedParameters()) {
    if (v.rank === 2) {
      const m = hand.matrix(v.shape[0]!, v.shape[1]!, next);
      tf.tidy(() => v.assign(tf.tensor2d(m)));
      values.set(name, m);
    } else {
      const vec = Array.from({ length: v.shape[0]! }, next);
      // LayerNorm weights around 1 so the test sees their effect without flipping signs.
      const adjusted =
        name.endsWith('ln.weight') || /ln_(source|target)\.weight/.test(name)
          ? vec.map((x) => 1 + 0.5 * x)
          : vec;
      tf.tidy(() => v.assign(tf.tensor1d(adjusted)));
      values.set(name, adjusted);
    }
  }
  return values;
}

/** The training code's forward pass (train/model.py), in plain loops over one row. */
function handForward(
  variant: LinkVariant,
  p: Map<string, number[] | number[][]>,
  x: number[],
): number[] {
  const m = (k: string) => p.get(k) as number[][];
  const v = (k: string) => p.get(k) as number[];
  const outer = variant.startsWith('outer_');
  const pre = outer ? 'ln_source' : 'pre_ln';
  const post = outer ? 'ln_target' : 'post_ln';
  const h = p.has(`${pre}.weight`) ? hand.layerNorm(x, v(`${pre}.weight`), v(`${pre}.bias`)) : x;
  let out = p.has('proj2.weight')
    ? hand.affine(
        hand.affine(h, m('proj1.weight'), v('proj1.bias')).map(hand.gelu),
        m('proj2.weight'),
        v('proj2.bias'),
      )
    : hand.affine(h, m('proj1.weight'), v('proj1.bias'));
  const identity =
    !outer && ['ln_res_adapter', 'res_adapter', 'linear_res_adapter'].includes(variant);
  if (identity) out = hand.add(x, out);
  if (p.has('residual_proj.weight')) {
    out = hand.add(out, hand.affine(x, m('residual_proj.weight'), v('residual_proj.bias')));
  }
  if (p.has(`${post}.weight`)) out = hand.layerNorm(out, v(`${post}.weight`), v(`${post}.bias`));
  return out;
}

describe('gelu', () => {
  it('is the exact erf form: GELU(1) = 0.8413447460685429, GELU(-1) = -0.15865525393145707', () => {
    const y = tf.tidy(() => Array.from(geluTensor(tf.tensor1d([1, -1, 0, 2.5, -3])).dataSync()));
    // Literal values of x·Φ(x) (Φ the standard normal CDF), and the tanh approximation differs at 1e-4.
    expect(y[0]).toBeCloseTo(0.8413447460685429, 6);
    expect(y[1]).toBeCloseTo(-0.15865525393145707, 6);
    expect(y[2]).toBe(0);
    expect(y[3]).toBeCloseTo(hand.gelu(2.5), 6);
    expect(y[4]).toBeCloseTo(hand.gelu(-3), 6);
  });

  it('has the derivative Φ(x) + x·φ(x)', () => {
    const g = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) => tf.sum(geluTensor(x)))(tf.tensor1d([0.5, -1.2]))
          .dataSync(),
      ),
    );
    const d = (x: number) =>
      0.5 * (1 + hand.erf(x / Math.SQRT2)) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
    expect(g[0]).toBeCloseTo(d(0.5), 5);
    expect(g[1]).toBeCloseTo(d(-1.2), 5);
  });
});

describe('RecursiveLink formulas against hand computation', () => {
  it('inner res_adapter (paper Eq. 3) with identity weights: h + GELU(h)', () => {
    const link = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 2 });
    tf.tidy(() => {
      link.proj1.weight.assign(tf.eye(2));
      link.proj1.bias.assign(tf.zeros([2]));
      link.proj2!.weight.assign(tf.eye(2));
      link.proj2!.bias.assign(tf.zeros([2]));
    });
    const y = tf.tidy(() => Array.from(applyLink(link, tf.tensor2d([[1, -1]])).dataSync()));
    link.dispose();
    // 1 + GELU(1) = 1.8413447, -1 + GELU(-1) = -1.1586553 (worked out from Φ(1) = 0.8413447).
    expect(y[0]).toBeCloseTo(1.8413447, 5);
    expect(y[1]).toBeCloseTo(-1.1586553, 5);
  });

  it('outer res_adapter (paper Eq. 4): W3·h + W2·σ(W1·h), 2 -> 1 with a width-2 MLP', () => {
    const link = createRecursiveLink({
      kind: 'outer',
      variant: 'outer_res_adapter',
      inDim: 2,
      outDim: 1,
      hiddenDim: 2,
    });
    tf.tidy(() => {
      link.proj1.weight.assign(
        tf.tensor2d([
          [1, 0],
          [0, 2],
        ]),
      ); // z = [h0, 2·h1]
      link.proj1.bias.assign(tf.zeros([2]));
      link.proj2!.weight.assign(tf.tensor2d([[1], [1]])); // sum
      link.proj2!.bias.assign(tf.tensor1d([0.5]));
      link.residualProj!.weight.assign(tf.tensor2d([[3], [-1]])); // 3·h0 − h1
      link.residualProj!.bias.assign(tf.zeros([1]));
    });
    const y = tf.tidy(() => Array.from(applyLink(link, tf.tensor2d([[1, 0.5]])).dataSync()));
    link.dispose();
    // W3·h = 3 − 0.5 = 2.5; W1·h = [1, 1]; σ = [0.8413447, 0.8413447]; W2·σ + 0.5 = 2.1826895.
    expect(y[0]).toBeCloseTo(2.5 + 2 * 0.8413447 + 0.5, 5);
  });

  it('inner ln_res_adapter: post_LN(x + proj2(GELU(proj1(pre_LN(x))))) on a worked example', () => {
    const link = createRecursiveLink({ kind: 'inner', inDim: 2 });
    expect(link.variant).toBe('ln_res_adapter');
    tf.tidy(() => {
      link.proj1.weight.assign(tf.eye(2));
      link.proj1.bias.assign(tf.zeros([2]));
      link.proj2!.weight.assign(tf.eye(2));
      link.proj2!.bias.assign(tf.zeros([2]));
    });
    const y = tf.tidy(() => Array.from(applyLink(link, tf.tensor2d([[3, 1]])).dataSync()));
    link.dispose();
    // pre_LN([3, 1]) = [1, -1] (mean 2, var 1, eps 1e-5 -> ±0.999995); x + GELU = [3.8413, 0.8413];
    // post_LN of two values = ±(1 − 5e-6·…): [0.99999, -0.99999] for any positive gap.
    const z = 1 / Math.sqrt(1 + 1e-5);
    const a = 3 + hand.gelu(z);
    const b = 1 + hand.gelu(-z);
    const half = (a - b) / 2;
    const expected = half / Math.sqrt(half * half + 1e-5);
    expect(y[0]).toBeCloseTo(expected, 5);
    expect(y[1]).toBeCloseTo(-expected, 5);
  });

  const cases: Array<{ variant: LinkVariant; inDim: number; outDim: number }> = [
    ...INNER_LINK_VARIANTS.map((variant) => ({ variant, inDim: 5, outDim: 5 })),
    ...OUTER_LINK_VARIANTS.map((variant) => ({ variant, inDim: 3, outDim: 4 })),
  ];
  for (const [index, { variant, inDim, outDim }] of cases.entries()) {
    it(`${variant} ${inDim}->${outDim} matches the training code's forward, row by row`, () => {
      const kind = variant.startsWith('outer_') ? 'outer' : 'inner';
      const link = createRecursiveLink({ kind, variant, inDim, outDim });
      const params = fillLink(link, 100 + index);
      const next = hand.seededValues(900 + index);
      const rows = hand.matrix(3, inDim, () => 2 * next());
      const got = tf.tidy(() => applyLink(link, tf.tensor2d(rows)).arraySync() as number[][]);
      link.dispose();
      for (const [r, row] of rows.entries()) {
        expect(hand.maxAbsDiff(got[r]!, handForward(variant, params, row))).toBeLessThan(2e-5);
      }
    });
  }

  it('has the documented shapes: outer LN variant MLP width 2·d_out, others d_out', () => {
    const ln = createRecursiveLink({ kind: 'outer', inDim: 96, outDim: 192 });
    const plain = createRecursiveLink({ kind: 'outer', variant: 'paper', inDim: 96, outDim: 192 });
    expect(ln.proj1.weight.shape).toEqual([96, 384]);
    expect(ln.proj2!.weight.shape).toEqual([384, 192]);
    expect(ln.residualProj!.weight.shape).toEqual([96, 192]);
    expect(plain.variant).toBe('outer_res_adapter');
    expect(plain.proj1.weight.shape).toEqual([96, 192]);
    // 2d² + 6d for the release inner link (the paper's 13.12M at d = 2560).
    const inner = createRecursiveLink({ kind: 'inner', inDim: 40 });
    expect(inner.parameterCount).toBe(2 * 40 * 40 + 6 * 40);
    for (const l of [ln, plain, inner]) l.dispose();
  });

  it('applies over any leading axes: [2, 3, d] gives the same rows as [6, d]', () => {
    const link = createRecursiveLink({ kind: 'outer', inDim: 4, outDim: 3, seed: 3 });
    const [a, b] = tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5);
      return [
        Array.from(applyLink(link, x).dataSync()),
        Array.from(applyLink(link, x.reshape([6, 4])).dataSync()),
      ];
    });
    link.dispose();
    expect(hand.maxAbsDiff(a!, b!)).toBe(0);
  });

  it('is differentiable w.r.t. every variable', () => {
    const link = createRecursiveLink({ kind: 'outer', inDim: 4, outDim: 3, seed: 1 });
    const { grads, value } = tf.variableGrads(
      () =>
        tf.sum(
          tf.square(applyLink(link, tf.randomNormal([5, 4], 0, 1, 'float32', 2))),
        ) as tf.Scalar,
      link.variables,
    );
    const norms = Object.values(grads).map((g) => tf.tidy(() => tf.norm(g).dataSync()[0]!));
    expect(norms).toHaveLength(link.variables.length);
    for (const n of norms) expect(n).toBeGreaterThan(0);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    link.dispose();
  });

  it('Kaiming init: weight std ≈ sqrt(2 / fan_in), biases 0; the same seed gives the same weights', () => {
    const a = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 256, seed: 11 });
    const b = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 256, seed: 11 });
    const w = Array.from(a.proj1.weight.dataSync());
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / 256) * 0.95);
    expect(std).toBeLessThan(Math.sqrt(2 / 256) * 1.05);
    expect(Math.max(...Array.from(a.proj1.bias.dataSync(), Math.abs))).toBe(0);
    expect(hand.maxAbsDiff(w, b.proj1.weight.dataSync())).toBe(0);
    a.dispose();
    b.dispose();
  });

  it('rejects bad dims, unknown variants and wrong input widths with typed errors', () => {
    expect(() => createRecursiveLink({ kind: 'inner', inDim: 4, outDim: 5 })).toThrow(
      OperatorError,
    );
    expect(() => normalizeLinkVariant('inner', 'outer_adapter')).toThrow(
      /unknown inner link variant/,
    );
    expect(normalizeLinkVariant('inner', '1layer')).toBe('linear_adapter');
    const link = createRecursiveLink({ kind: 'inner', inDim: 4 });
    try {
      tf.tidy(() => applyLink(link, tf.zeros([2, 3])));
      expect.unreachable();
    } catch (error) {
      expect((error as OperatorError).code).toBe('LINK_SHAPE_MISMATCH');
    }
    link.dispose();
  });
});
