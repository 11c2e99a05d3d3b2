/**
 * Plain-JS reference math for the operator tests: loops over number arrays, no tfjs, so the
 * tests compare the tensor code against an independent computation.
 */

/** erf by its Maclaurin series (exact to ~1e-15 for |x| < 3), then the asymptotic tail. */
export function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** y = x·W + b with W given as rows of inputs: W[i][j], i over inputs. */
export function affine(x: number[], w: number[][], b: number[]): number[] {
  return b.map((bj, j) => x.reduce((s, xi, i) => s + xi * w[i]![j]!, bj));
}

export function layerNorm(x: number[], weight: number[], bias: number[], eps = 1e-5): number[] {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * weight[i]! + bias[i]!);
}

export function add(a: number[], b: number[]): number[] {
  return a.map((v, i) => v + b[i]!);
}

/** A small deterministic generator (xorshift32) for test weights; values in [-1, 1). */
export function seededValues(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296) * 2 - 1;
  };
}

export function matrix(rows: number, cols: number, next: () => number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
