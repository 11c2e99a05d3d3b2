import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  initBackend,
  KernelInputError,
  setMatMulRouting,
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

  it('folds a batch against one matrix, and splits equal batches into single products', () => {
    const batched = () => wasmKernelStats().routedBatchedMatMuls;
    const x = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 6);
    const w = tf.randomNormal([5, 2], 0, 1, 'float32', 7);
    const ws = tf.randomNormal([3, 5, 2], 0, 1, 'float32', 8);
    let before = batched();
    tf.tidy(() => {
      tf.matMul(x, w); // [3, 4, 5] x [5, 2]: folded
      tf.matMul(x, ws); // [3, 4, 5] x [3, 5, 2]: split
      tf.matMul(w, ws, true, false); // [5, 2]ᵀ x [3, 5, 2]: split, the single matrix shared
    });
    expect(batched()).toBe(before + 3);
    before = batched();
    tf.tidy(() => {
      tf.matMul(tf.randomNormal([4, 5]), w); // two single matrices: already the fast path
    });
    expect(batched()).toBe(before);
    tf.dispose([x, w, ws]);
  });

  // Operand layouts the routing rewrites, each compared with the cpu backend.
  const layouts = () =>
    tf.tidy(() => {
      const t = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
      const bias = t([6], 5);
      return {
        batchedBoth: tf.matMul(t([2, 7, 5], 3), t([2, 6, 7], 4), true, true).arraySync(),
        rank4: tf.matMul(t([2, 3, 4, 5], 9), t([2, 3, 5, 6], 10)).arraySync(),
        sharedA: tf.matMul(t([4, 5], 11), t([3, 5, 6], 12)).arraySync(),
        foldedB: tf.matMul(t([3, 4, 5], 13), t([6, 5], 14), false, true).arraySync(),
        // wasm's own kernel adds a rank-1 bias wrongly after the first row on these (non-XNNPACK) layouts.
        fusedBatched: tf.fused
          .matMul({
            a: t([2, 7, 5], 3),
            b: t([2, 6, 7], 4),
            transposeA: true,
            transposeB: true,
            bias,
            activation: 'relu',
          })
          .arraySync(),
        fusedTransposed: tf.fused
          .matMul({ a: t([7, 5], 15), b: t([7, 6], 16), transposeA: true, bias })
          .arraySync(),
        fusedFolded: tf.fused
          .matMul({ a: t([3, 4, 7], 17), b: t([7, 6], 18), bias, activation: 'elu' })
          .arraySync(),
      };
    });

  it('matches the cpu backend on every rewritten layout (batched, rank 4, shared, folded, fused + bias)', async () => {
    const here = layouts();
    const onCpu = await onBackend('cpu', layouts);
    for (const key of Object.keys(here) as (keyof typeof here)[]) {
      expectClose(here[key], onCpu[key], 1e-5, key);
    }
  });

  it('gives the same plain products with the routing off', () => {
    const previous = setMatMulRouting(false);
    let unrouted: ReturnType<typeof layouts>;
    try {
      unrouted = layouts();
    } finally {
      setMatMulRouting(previous);
    }
    const routed = layouts();
    for (const key of ['batchedBoth', 'rank4', 'sharedA', 'foldedB'] as const) {
      expectClose(routed[key], unrouted[key], 1e-5, key);
    }
  });
});
