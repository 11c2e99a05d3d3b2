import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  initBackend,
  KernelInputError,
  setTransposedMatMulRouting,
  useBackend,
  wasmKernelStats,
} from '../../runtime/backend/index.ts';
import { expectClose, onBackend } from '../harness/backends.ts';

// The wasm-only fixes: what they compute is covered on every backend in backend-ops.spec.ts; here,
// that they are registered once, are actually on the paths that need them, and free their scratch.

/** wasm heap allocations alive, including kernel-internal temporaries the engine never sees. */
const wasmDataIds = () => (tf.backend() as BackendWasm).numDataIds();

describe('wasm kernel fixes', () => {
  let tensors = 0;
  let dataIds = 0;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', strict: true, log: false });
  });
  beforeEach(() => {
    tensors = tf.memory().numTensors;
    dataIds = wasmDataIds();
  });
  afterEach(() => {
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors, 'tensors leaked').toBe(tensors);
    expect(wasmDataIds(), 'wasm buffers leaked').toBe(dataIds);
  });

  it('are registered exactly once, however often the backend is set up', async () => {
    await useBackend('cpu');
    await useBackend('wasm');
    await useBackend('wasm');
    const names = tf.getKernelsForBackend('wasm').map((k) => k.kernelName);
    for (const name of ['UnsortedSegmentSum', 'BatchMatMul', '_FusedMatMul', 'Transpose']) {
      expect(
        names.filter((n) => n === name),
        name,
      ).toHaveLength(1);
    }
  });

  it('UnsortedSegmentSum sums rows per segment and drops ids outside [0, numSegments) (hand-computed)', () => {
    const before = wasmKernelStats().unsortedSegmentSums;
    const { floats, ints } = tf.tidy(() => {
      const ids = tf.tensor1d([1, 0, 1, 5, -1], 'int32');
      const x = [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
        [9, 10],
      ];
      return {
        floats: tf.unsortedSegmentSum(tf.tensor2d(x), ids, 3).arraySync(),
        ints: tf.unsortedSegmentSum(tf.tensor2d(x, undefined, 'int32'), ids, 3).arraySync(),
      };
    });
    const expected = [
      [3, 4],
      [6, 8],
      [0, 0],
    ];
    expect(floats).toEqual(expected);
    expect(ints).toEqual(expected);
    expect(wasmKernelStats().unsortedSegmentSums).toBe(before + 2);
  });

  it('UnsortedSegmentSum matches the cpu backend on a 3-D input', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor3d(
          Array.from({ length: 6 * 2 * 3 }, (_, i) => Math.sin(i)),
          [6, 2, 3],
        );
        return tf.unsortedSegmentSum(x, tf.tensor1d([3, 0, 3, 3, 1, 0], 'int32'), 4).arraySync();
      });
    expectClose(run(), await onBackend('cpu', run), 1e-6);
  });

  it('UnsortedSegmentSum rejects segment ids that do not fit x with a typed error', () => {
    const attempt = () =>
      tf.tidy(() => tf.unsortedSegmentSum(tf.zeros([3, 2]), tf.tensor1d([0, 1, 0, 1], 'int32'), 2));
    expect(attempt).toThrow(KernelInputError);
    expect(attempt).toThrow(/segmentIds shape \[4\] must be a prefix of x shape \[3,2\]/);
  });

  it('routes transposed forward matmuls, and both weight gradients, through the plain kernel', () => {
    const a = tf.randomNormal([6, 4], 0, 1, 'float32', 1);
    const b = tf.randomNormal([4, 5], 0, 1, 'float32', 2);
    const routed = () => wasmKernelStats().routedTransposedMatMuls;

    let before = routed();
    tf.tidy(() => {
      tf.matMul(a, b);
    });
    expect(routed(), 'plain forward').toBe(before);

    before = routed();
    tf.tidy(() => {
      tf.matMul(tf.transpose(a), b, true, false);
    });
    expect(routed(), 'transposeA forward').toBe(before + 1);

    // y = a b: dy/da = g bᵀ (transposeB) and dy/db = aᵀ g (transposeA).
    before = routed();
    tf.tidy(() => {
      tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y)))([a, b]);
    });
    expect(routed(), 'gradients').toBe(before + 2);

    // A dense layer through tf.fused.matMul goes through the same routing.
    before = routed();
    tf.tidy(() => {
      const dense = (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, activation: 'relu' }));
      tf.grads(dense)([a, b]);
    });
    expect(routed(), 'fused matMul gradients').toBe(before + 2);
    tf.dispose([a, b]);
  });

  it('gives the same products routed and unrouted, fused or not', () => {
    const results = (routing: boolean) => {
      const previous = setTransposedMatMulRouting(routing);
      try {
        return tf.tidy(() => {
          const a = tf.randomNormal([2, 7, 5], 0, 1, 'float32', 3); // stored [batch, k, m]
          const b = tf.randomNormal([2, 6, 7], 0, 1, 'float32', 4); // stored [batch, n, k]
          const bias = tf.randomNormal([6], 0, 1, 'float32', 5);
          return {
            both: tf.matMul(a, b, true, true).arraySync(),
            fused: tf.fused
              .matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' })
              .arraySync(),
          };
        });
      } finally {
        setTransposedMatMulRouting(previous);
      }
    };
    const routed = results(true);
    const unrouted = results(false);
    expectClose(routed.both, unrouted.both, 1e-5, 'matMul');
    expectClose(routed.fused, unrouted.fused, 1e-5, 'fused');
  });
});
