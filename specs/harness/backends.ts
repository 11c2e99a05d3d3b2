import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from 'vitest';
import { type BackendName, installedBackends, useBackend } from '../../runtime/backend/index.ts';

/**
 * The backends cross-backend tests run on: every one whose package is installed (cpu and wasm here;
 * tensorflow when tfjs-node is present). A listed backend that then fails to load fails its block.
 *
 * @example
 * availableBackends(); // ['wasm', 'cpu']
 */
export function availableBackends(): BackendName[] {
  return installedBackends();
}

/**
 * `describe(title [backend], fn)` once per available backend: tf is switched to that backend for the
 * block and restored after it, and every test must leave `tf.memory().numTensors` where it found it.
 *
 * @example
 * describeEachBackend('gather', (backend) => {
 *   it('selects rows', () => { ... });
 * });
 */
export function describeEachBackend(title: string, fn: (backend: BackendName) => void): void {
  for (const backend of availableBackends()) {
    describe(`${title} [${backend}]`, () => {
      let previous: string | null = null;
      let baseline = 0;
      beforeAll(async () => {
        previous = tf.getBackend() ?? null;
        await useBackend(backend);
      });
      afterAll(async () => {
        if (previous != null && previous !== backend) await tf.setBackend(previous);
      });
      beforeEach(() => {
        baseline = tf.memory().numTensors;
      });
      afterEach(() => {
        expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
      });
      fn(backend);
    });
  }
}

/**
 * Runs `fn` with tf switched to `backend`, then switches back: to compute the reference a test
 * compares against (return plain arrays, not tensors, so nothing outlives the switch).
 *
 * @example
 * const onCpu = await onBackend('cpu', () => tf.tidy(() => tf.softmax(x).arraySync()));
 */
export async function onBackend<T>(backend: BackendName, fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend() ?? null;
  await useBackend(backend);
  try {
    return await fn();
  } finally {
    if (previous != null && previous !== backend) await tf.setBackend(previous);
  }
}

/**
 * `max |actual - expected| / max |expected|` over all elements (nested arrays are flattened): the
 * relative error in the max norm, robust to elements near zero.
 *
 * @example
 * maxRelativeError([1, 2.0001], [1, 2]); // 5e-5
 */
export function maxRelativeError(actual: unknown, expected: unknown): number {
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.length !== e.length) {
    throw new Error(`maxRelativeError: ${a.length} values vs ${e.length} expected`);
  }
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - e[i]!));
    maxRef = Math.max(maxRef, Math.abs(e[i]!));
  }
  if (Number.isNaN(maxDiff)) return Number.POSITIVE_INFINITY;
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/**
 * Asserts {@link maxRelativeError} `<= tolerance`, printing both sides on failure.
 *
 * @example
 * expectClose(tensor.arraySync(), [[1, 2], [3, 4]], 1e-6);
 */
export function expectClose(
  actual: unknown,
  expected: unknown,
  tolerance: number,
  what = '',
): void {
  const error = maxRelativeError(actual, expected);
  // The message (both sides printed) is only built when the check fails.
  const message =
    error <= tolerance
      ? what
      : `${what} relative error ${error} > ${tolerance}\nactual:   ${JSON.stringify(actual)}\nexpected: ${JSON.stringify(expected)}`;
  expect(error, message).toBeLessThanOrEqual(tolerance);
}

function flatten(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.flatMap(flatten);
  throw new Error(`expected numbers or (nested) arrays of numbers, got ${typeof value}`);
}
