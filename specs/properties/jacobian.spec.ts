/**
 * Theorem 4.1 (gradient stability), as properties of the Jacobian norms the operators measure
 * (operators/jacobian.ts: exact Jacobians by a batched VJP, spectral norm by power iteration).
 *
 * Inner link, identity-residual form R(h) = h + W2·σ(W1·h) (`res_adapter`), Kaiming init
 * (W ~ N(0, 2/fan_in), biases 0), σ = exact GELU. The bound tested, derived here:
 *   ‖J‖₂ ≥ |tr J|/d = |1 + tr(A)/d|,  A = W1·diag(σ′(z))·W2 (operators' [in, out] layout).
 *   Given W1 (and h), tr A = Σ_{i,k} σ′(z_k)·W1[i,k]·W2[k,i] is Gaussian with mean 0 and variance
 *   s² = (2/d)·Σ_k σ′(z_k)²‖W1[:,k]‖² ≤ (2/d)·G²·‖W1‖_F², G = max|GELU′| = 1.1289.
 *   (d/2)·‖W1‖_F² ~ χ²_{d²}: ≤ d² + 2d·√x + 2x with probability ≥ 1 − e^{−x} (Laurent–Massart).
 *   With x = ln(2/δ) and a Gaussian tail at δ/2, with probability ≥ 1 − δ:
 *     ‖J‖₂ ≥ 1 − β(d, δ),  β = (2G/d)·√(2·ln(4/δ))·√(1 + 2√(ln(2/δ))/d + 2·ln(2/δ)/d²).
 *   β = O(√(ln(1/δ))/d), within the paper's 1 − c·√(ln(1/δ)/d) (any c ≥ β·√(d/ln(1/δ)); at
 *   δ = 1e-2, d ≥ 32 that is c = 0.7). The bound is vacuous below d ≈ 24 at δ = 1e-2, so widths
 *   32–128 are drawn.
 *
 * Text hand-off R_text(h) = W_in·softmax(W_out·h / T): J = W_inᵀ·(diag(p) − ppᵀ)·W_out / T, and
 * diag(p) − ppᵀ is positive semi-definite with trace 1 − ‖p‖² ≤ H(p) (since 1 − x ≤ −ln x), so
 *   ‖J‖₂ ≤ ‖W_in‖_F·‖W_out‖_F·H(p) / T:
 * a confident next token (entropy H ≤ ε) passes at most K·ε of the gradient, K = ‖W_in‖_F‖W_out‖_F/T.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecoderLM, randomDecoderWeights } from '../../models/index.ts';
import {
  innerLinkJacobianNorm,
  jacobianSpectralNorm,
  modelTextHandoff,
  textHandoffJacobianNorm,
} from '../../operators/jacobian.ts';
import { createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import { propertyConfig } from './config.ts';
import { tinyConfig, useWasmAndCheckTensors } from './tinyAgents.ts';

useWasmAndCheckTensors();

const GELU_PRIME_MAX = 1.1289;

/** β(d, δ) of the derivation above. */
function innerLinkBoundGap(d: number, delta: number): number {
  const x = Math.log(2 / delta);
  return (
    ((2 * GELU_PRIME_MAX) / d) *
    Math.sqrt(2 * Math.log(4 / delta)) *
    Math.sqrt(1 + (2 * Math.sqrt(x)) / d + (2 * x) / (d * d))
  );
}

/** Largest k with P(Binomial(n, p) ≥ k) ≥ tail: more violations than that are evidence against the bound. */
function binomialAllowance(n: number, p: number, tail: number): number {
  let pmf = (1 - p) ** n;
  let atLeast = 1;
  for (let k = 0; k <= n; k++) {
    atLeast -= pmf; // now P(X ≥ k + 1)
    if (atLeast < tail) return k;
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return n;
}

const GELU_PRIME = (x: number) => {
  const phi = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  return 0.5 * (1 + erf(x / Math.SQRT2)) + x * phi;
};

/** erf to ~1e-15 by its Maclaurin series (|x| ≤ 3) or a continued fraction tail (beyond). */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  if (a <= 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc(a) = e^{−a²}/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))).
  let fraction = a;
  for (let k = 60; k >= 1; k--) fraction = a + k / 2 / fraction;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / fraction);
}

describe('Theorem 4.1: the inner link keeps the gradient (Kaiming init, identity residual)', () => {
  it('‖J‖₂ ≥ 1 − β(d, δ = 1e-2) except with probability δ, and ‖J‖₂ ≥ |1 + tr(A)/d| (tr A by hand)', () => {
    const delta = 1e-2;
    const draws = fc.record({
      d: fc.constantFrom(32, 48, 64, 96, 128),
      linkSeed: fc.integer({ min: 1, max: 1_000_000 }),
      pointSeed: fc.integer({ min: 1, max: 1_000_000 }),
    });
    let runs = 0;
    let violations = 0;
    const lowest = new Map<number, number>();
    fc.assert(
      fc.property(draws, ({ d, linkSeed, pointSeed }) => {
        runs++;
        const link = createRecursiveLink({
          kind: 'inner',
          variant: 'res_adapter',
          inDim: d,
          seed: linkSeed,
        });
        // A hidden state after the model's final RMSNorm has per-element RMS ≈ 1.
        const h = tf.randomNormal([d], 0, 1, 'float32', pointSeed) as tf.Tensor1D;
        try {
          const measured = innerLinkJacobianNorm(link, h);
          if (measured < 1 - innerLinkBoundGap(d, delta)) violations++;
          lowest.set(d, Math.min(lowest.get(d) ?? Number.POSITIVE_INFINITY, measured));
          // tr(A) = Σ_k σ′(z_k)·Σ_i W1[i,k]·W2[k,i], z = h·W1 (+ b1 = 0), in float64.
          const w1 = link.proj1.weight.arraySync() as number[][];
          const w2 = link.proj2!.weight.arraySync() as number[][];
          const hv = h.arraySync();
          let trace = 0;
          for (let k = 0; k < d; k++) {
            let z = 0;
            for (let i = 0; i < d; i++) z += hv[i]! * w1[i]![k]!;
            let inner = 0;
            for (let i = 0; i < d; i++) inner += w1[i]![k]! * w2[k]![i]!;
            trace += GELU_PRIME(z) * inner;
          }
          // Float32 Jacobian entries and power iteration: 1e-4 relative slack.
          expect(measured).toBeGreaterThanOrEqual(Math.abs(1 + trace / d) * (1 - 1e-4));
        } finally {
          link.dispose();
          h.dispose();
        }
      }),
      propertyConfig('inner-link Jacobian lower bound', 60),
    );
    const allowed = binomialAllowance(runs, delta, 1e-6);
    const table = [...lowest].sort(([a], [b]) => a - b);
    const summary = table.map(
      ([d, m]) =>
        `d=${d}: min ‖J‖ ${m.toFixed(3)} vs 1 − β ${(1 - innerLinkBoundGap(d, delta)).toFixed(3)}`,
    );
    console.log(
      `[theorem 4.1] ${violations} of ${runs} draws below 1 − β (allowed ${allowed}); ${summary.join('; ')}`,
    );
    expect(violations).toBeLessThanOrEqual(allowed);
  });

  it('the bound gap β shrinks like 1/d (the theorem form 1 − c·√(ln(1/δ)/d) holds with c = 0.7 for d ≥ 32)', () => {
    for (const d of [32, 64, 128, 256, 1024, 2560]) {
      const beta = innerLinkBoundGap(d, 1e-2);
      expect(beta).toBeLessThanOrEqual(0.7 * Math.sqrt(Math.log(100) / d));
      expect(beta * d).toBeLessThan(innerLinkBoundGap(32, 1e-2) * 32 + 1e-12);
    }
    expect(innerLinkBoundGap(2560, 1e-2)).toBeLessThan(4e-3); // d_h of the paper's 4B agents
  });
});

/** Entropy (nats) and ‖·‖_F of the pieces of R_text at h, in float64 from the weights. */
function handoffFacts(table: number[][], head: number[][], h: number[], temperature: number) {
  const logits = head.map((row) => row.reduce((s, w, j) => s + w * h[j]!, 0) / temperature);
  const top = Math.max(...logits);
  const weights = logits.map((l) => Math.exp(l - top));
  const total = weights.reduce((a, b) => a + b, 0);
  const p = weights.map((w) => w / total);
  const entropy = -p.reduce((s, q) => (q > 0 ? s + q * Math.log(q) : s), 0);
  const frobenius = (m: number[][]) => Math.sqrt(m.flat().reduce((s, x) => s + x * x, 0));
  return { entropy, k: (frobenius(table) * frobenius(head)) / temperature };
}

describe('Theorem 4.1: a text hand-off on a confident token passes almost no gradient', () => {
  it('‖J_text‖₂ ≤ ‖W_in‖_F·‖W_out‖_F·H(p)/T, and ≤ K·ε once the entropy is ≤ ε (ε = 1e-1, 1e-2, 1e-3)', () => {
    const draws = fc.record({
      vocab: fc.integer({ min: 8, max: 64 }),
      d: fc.constantFrom(8, 16, 32),
      dIn: fc.constantFrom(8, 16, 32),
      temperature: fc.constantFrom(0.5, 1, 2),
      token: fc.nat(),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
    });
    let runs = 0;
    let checked = 0;
    let largestRatio = 0;
    fc.assert(
      fc.property(draws, ({ vocab, d, dIn, temperature, token, seed }) => {
        runs++;
        const table = tf.randomNormal([vocab, dIn], 0, 1, 'float32', seed) as tf.Tensor2D;
        const head = tf.randomNormal(
          [vocab, d],
          0,
          1 / Math.sqrt(d),
          'float32',
          seed + 1,
        ) as tf.Tensor2D;
        try {
          const tableRows = table.arraySync();
          const headRows = head.arraySync();
          // Walk h along the chosen token's head row until its softmax is confident.
          const direction = headRows[token % vocab]!;
          for (const epsilon of [1e-1, 1e-2, 1e-3]) {
            let scale = 1;
            let facts = handoffFacts(tableRows, headRows, direction, temperature);
            while (facts.entropy > epsilon && scale < 1e6) {
              scale *= 1.5;
              facts = handoffFacts(
                tableRows,
                headRows,
                direction.map((x) => x * scale),
                temperature,
              );
            }
            // Some draws have another token's row too close to this one to ever win clearly.
            if (facts.entropy > epsilon) return;
            const h = tf.tensor1d(direction.map((x) => x * scale));
            const measured = textHandoffJacobianNorm(table, head, h, temperature);
            h.dispose();
            checked++;
            largestRatio = Math.max(largestRatio, measured / (facts.k * epsilon));
            // Float32 softmax Jacobian: an absolute 1e-6·K of rounding on top of the bound.
            expect(measured).toBeLessThanOrEqual(
              facts.k * facts.entropy * (1 + 1e-3) + 1e-6 * facts.k,
            );
            expect(measured).toBeLessThanOrEqual(facts.k * epsilon * (1 + 1e-3) + 1e-6 * facts.k);
          }
        } finally {
          table.dispose();
          head.dispose();
        }
      }),
      propertyConfig('text hand-off Jacobian vanishes on confident tokens', 40),
    );
    console.log(
      `[theorem 4.1] text hand-off: ${checked} (draw, ε) pairs checked of ${3 * runs}; largest ‖J‖/(K·ε) ${largestRatio.toExponential(2)}`,
    );
    // Most draws reach a confident token: the bound is not checked on a handful only.
    expect(checked).toBeGreaterThanOrEqual(2 * runs);
  });

  it("an agent's own text hand-off (its LM head and embedding table) obeys the same bound", () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 16, 32), fc.integer({ min: 1, max: 1_000_000 }), (d, seed) => {
        const config = tinyConfig(d, seed % 3);
        const model = new DecoderLM(config, randomDecoderWeights(config, seed));
        const handoff = modelTextHandoff(model);
        try {
          const table = (model.weights.get('model.embed_tokens.weight') as tf.Tensor2D).arraySync();
          const headInOut = (model.weights.get('lm_head.weight') as tf.Tensor2D).arraySync(); // [d, V]
          const head = headInOut[0]!.map((_, v) => headInOut.map((row) => row[v]!)); // [V, d]
          const direction = head[seed % head.length]!;
          let scale = 1;
          let facts = handoffFacts(table, head, direction, 1);
          while (facts.entropy > 1e-2 && scale < 1e8) {
            scale *= 1.5;
            facts = handoffFacts(
              table,
              head,
              direction.map((x) => x * scale),
              1,
            );
          }
          if (facts.entropy > 1e-2) return;
          const h = tf.tensor1d(direction.map((x) => x * scale));
          const measured = jacobianSpectralNorm(handoff.map, h);
          h.dispose();
          expect(measured).toBeLessThanOrEqual(
            facts.k * facts.entropy * (1 + 1e-3) + 1e-6 * facts.k,
          );
        } finally {
          handoff.dispose();
          model.dispose();
        }
      }),
      propertyConfig("an agent's text hand-off vanishes on confident tokens", 10),
    );
  });
});
