import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  innerLinkJacobianNorm,
  jacobianSpectralNorm,
  modelTextHandoff,
  rowMapJacobian,
  spectralNorm,
  textHandoffJacobianNorm,
} from '../../operators/jacobian.ts';
import { createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import { testAgent } from './agents.ts';
import * as hand from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

/** Largest singular value of a 2x2 matrix in closed form: sqrt of the top eigenvalue of JᵀJ. */
function sigmaMax2x2(j: number[][]): number {
  const [[a, b], [c, d]] = j as [[number, number], [number, number]];
  const p = a * a + c * c;
  const q = a * b + c * d;
  const r = b * b + d * d;
  return Math.sqrt((p + r) / 2 + Math.sqrt(((p - r) / 2) ** 2 + q * q));
}

describe('Jacobian spectral norms', () => {
  it('power iteration finds σ_max of [[1, 2], [0, 2]]: sqrt((9 + √65)/2)', () => {
    expect(spectralNorm(Float64Array.from([1, 2, 0, 2]), 2, 2)).toBeCloseTo(
      Math.sqrt((9 + Math.sqrt(65)) / 2),
      8,
    );
    // A 3x2 matrix: [[3, 0], [0, 4], [0, 0]] -> 4.
    expect(spectralNorm(Float64Array.from([3, 0, 0, 4, 0, 0]), 3, 2)).toBeCloseTo(4, 8);
  });

  it('of a linear map x·A is σ_max(A)', () => {
    const norm = tf.tidy(() => {
      const a = tf.tensor2d([
        [1, 2],
        [0, 2],
      ]);
      return jacobianSpectralNorm((x) => tf.matMul(x, a), tf.tensor1d([0.3, -2]));
    });
    expect(norm).toBeCloseTo(Math.sqrt((9 + Math.sqrt(65)) / 2), 5);
  });

  it('inner res_adapter: J = I + (W1·diag(GELU′(z))·W2)ᵀ, by hand at a point', () => {
    const link = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 2 });
    const w1 = [
      [0.5, -1],
      [2, 0.25],
    ];
    const w2 = [
      [1, 0.5],
      [-0.75, 1.5],
    ];
    const b1 = [0.1, -0.2];
    tf.tidy(() => {
      link.proj1.weight.assign(tf.tensor2d(w1));
      link.proj1.bias.assign(tf.tensor1d(b1));
      link.proj2!.weight.assign(tf.tensor2d(w2));
    });
    const x = [0.7, -0.4];
    const z = hand.affine(x, w1, b1);
    const dGelu = (v: number) =>
      0.5 * (1 + hand.erf(v / Math.SQRT2)) + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI);
    // y_j = x_j + Σ_k GELU(z_k)·W2[k][j] -> ∂y_j/∂x_i = δ_ij + Σ_k W1[i][k]·GELU′(z_k)·W2[k][j]
    const j = [0, 1].map((jj) =>
      [0, 1].map(
        (ii) =>
          (ii === jj ? 1 : 0) +
          [0, 1].reduce((s, k) => s + w1[ii]![k]! * dGelu(z[k]!) * w2[k]![jj]!, 0),
      ),
    );
    const point = tf.tensor1d(x);
    const got = rowMapJacobian((v) => tf.add(v, 0), point);
    point.dispose();
    expect(Array.from(got.values)).toEqual([1, 0, 0, 1]); // identity map sanity
    const norm = tf.tidy(() => innerLinkJacobianNorm(link, tf.tensor1d(x)));
    link.dispose();
    expect(norm).toBeCloseTo(sigmaMax2x2(j), 4);
  });

  it('text hand-off: J = W_inᵀ(diag(p) − ppᵀ)W_out by hand; it vanishes for a confident token', () => {
    const table = [
      [1, 0],
      [0, 1],
      [1, 1],
    ]; // W_in [V=3, d=2]
    const head = [
      [2, 0],
      [0, 1],
      [-1, 1],
    ]; // W_out [V, d]
    const h = [0.3, 0.2];
    const logits = head.map((row) => row[0]! * h[0]! + row[1]! * h[1]!);
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const p = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
    // J[j][i] = Σ_v Σ_u W_in[v][j]·(δ_vu·p_v − p_v·p_u)·W_out[u][i]
    const j = [0, 1].map((jj) =>
      [0, 1].map((ii) => {
        let s = 0;
        for (let v = 0; v < 3; v++)
          for (let u = 0; u < 3; u++)
            s += table[v]![jj]! * ((v === u ? p[v]! : 0) - p[v]! * p[u]!) * head[u]![ii]!;
        return s;
      }),
    );
    const [norm, confident] = tf.tidy(() => {
      const t = tf.tensor2d(table);
      const w = tf.tensor2d(head);
      return [
        textHandoffJacobianNorm(t, w, tf.tensor1d(h)),
        textHandoffJacobianNorm(t, w, tf.tensor1d([30, 0])), // softmax ≈ one-hot on token 0
      ];
    });
    expect(norm).toBeCloseTo(sigmaMax2x2(j), 4);
    expect(confident).toBeLessThan(1e-6);
  });
});

describe('text hand-off of a real agent', () => {
  it('modelTextHandoff is W_in·softmax(W_out·h) with the model’s own head and table', async () => {
    const agent = await testAgent({
      name: 'a',
      hidden: 16,
      tokenizer: 'bytebpe-2k',
      seed: 5,
      layers: 1,
    });
    const table = agent.model.weights.get('model.embed_tokens.weight')! as tf.Tensor2D; // [V, d]
    const headT = agent.model.weights.get('lm_head.weight')! as tf.Tensor2D; // [d, V] (held [in, out])
    const text = modelTextHandoff(agent.model);
    const [viaModel, viaTables] = tf.tidy(() => {
      const h = tf.randomNormal([16], 0, 3, 'float32', 8) as tf.Tensor1D;
      return [
        jacobianSpectralNorm(text.map, h),
        textHandoffJacobianNorm(table, tf.transpose(headT) as tf.Tensor2D, h),
      ];
    });
    text.dispose();
    agent.model.dispose();
    expect(viaModel).toBeGreaterThan(0);
    expect(Math.abs(viaModel! - viaTables!) / viaTables!).toBeLessThan(1e-4);
  });
});
