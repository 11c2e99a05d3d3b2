import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { initBackend } from '../../runtime/backend/index.ts';

/**
 * Runs the file's tests on the wasm backend and checks that every test leaves
 * tf.memory().numTensors where it found it.
 */
export function useWasmAndCheckLeaks(): void {
  let baseline = 0;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', strict: true, log: false });
    expect(tf.getBackend()).toBe('wasm');
  });
  beforeEach(() => {
    baseline = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
  });
}
