/**
 * The middle value (mean of the two middle values for an even count). Robust to the outliers a
 * shared, noisy machine produces, which is why every benchmark reports medians.
 *
 * @example
 * median([5, 1, 3]); // 3
 * median([4, 1, 3, 2]); // 2.5
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * One side of a comparison: does the work once and finishes it (e.g. `dataSync()`) before returning.
 * Don't return a big typed array out of `tf.tidy`: tidy walks it element by element (100s of ms).
 */
export type BenchSide = () => unknown;

export interface InterleaveOptions {
  /** Untimed runs of each side first (JIT, caches, lazy setup). Default 1. */
  warmup?: number;
}

/**
 * Runs the sides in turn, A, B, A, B, ..., `reps` times each, and returns each side's timings in
 * milliseconds, so drift on a shared machine hits every side alike. Async sides are awaited.
 *
 * @example
 * const ms = await interleave({ plain: () => f(a).dataSync(), patched: () => g(a).dataSync() }, 15);
 * median(ms.patched) / median(ms.plain);
 */
export async function interleave<Name extends string>(
  sides: Record<Name, BenchSide>,
  reps: number,
  { warmup = 1 }: InterleaveOptions = {},
): Promise<Record<Name, number[]>> {
  const names = Object.keys(sides) as Name[];
  const timings = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    Name,
    number[]
  >;
  for (let round = 0; round < warmup + reps; round++) {
    for (const name of names) {
      const start = performance.now();
      await sides[name]();
      const elapsed = performance.now() - start;
      if (round >= warmup) timings[name].push(elapsed);
    }
  }
  return timings;
}

/**
 * Throughput in GFLOP/s of `flops` floating-point operations done in `ms` milliseconds.
 *
 * @example
 * gflops(2 * 512 ** 3, 9.0); // ≈ 29.8 (a 512³ matmul in 9 ms)
 */
export function gflops(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}
