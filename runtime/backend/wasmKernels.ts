import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelInputError } from './errors.ts';

// Gaps of @tensorflow/tfjs-backend-wasm 4.22.0 that training hits on every step:
// - `UnsortedSegmentSum` is not registered, and the gradient of `tf.gather` (embedding tables) needs it.
// - `BatchMatMul` / `_FusedMatMul` use XNNPACK only for a plain product of two single matrices
//   (no transpose, batch 1 on both sides); anything else runs a naive C++ loop 10-50x slower. Every
//   weight gradient asks for a transposed operand and attention multiplies batches of matrices.
//   That loop also adds a rank-1 bias wrongly after the first row (index min(i*N+j, N-1)).
// `installWasmKernels()` registers the first and wraps the matmuls so they always reach XNNPACK:
// transposed operands are materialised by a cache-blocked copy (O(n^2); 3x faster than the wasm
// `Transpose` kernel), Aᵀ Bᵀ is computed as (B A)ᵀ when the product is the smaller copy, a batch
// against one matrix is folded into the rows of a single product, and equal batches are split into
// one product per matrix. The O(n^3) work always runs on the fast path.

const WASM = 'wasm';

/** Counters that let tests and benchmarks see the patched kernels at work. */
export interface WasmKernelStats {
  /** Matmuls (forward or gradient) whose transposed operand(s) were materialised. */
  routedTransposedMatMuls: number;
  /** Batched matmuls folded into one product or split into one product per matrix. */
  routedBatchedMatMuls: number;
  /** Calls of the `UnsortedSegmentSum` kernel registered here. */
  unsortedSegmentSums: number;
}

const stats: WasmKernelStats = {
  routedTransposedMatMuls: 0,
  routedBatchedMatMuls: 0,
  unsortedSegmentSums: 0,
};
let routingEnabled = true;
let installed = false;

/**
 * Registers the missing wasm kernels and wraps the matmuls, once per process. Must run after
 * `@tensorflow/tfjs-backend-wasm` is imported (its kernels register on import) and before the wasm
 * backend is used; `initBackend()` / `useBackend('wasm')` call it for you.
 *
 * @example
 * await import('@tensorflow/tfjs-backend-wasm');
 * installWasmKernels();
 * await tf.setBackend('wasm');
 */
export function installWasmKernels(): void {
  if (installed) return;
  registerUnsortedSegmentSum();
  routeToFastPath('BatchMatMul');
  routeToFastPath('_FusedMatMul');
  installed = true;
}

/**
 * Turns the matmul routing on (default) or off, for benchmarks that measure the unpatched kernels in
 * the same process. Returns the previous setting.
 *
 * @example
 * const previous = setMatMulRouting(false);
 * try { tf.matMul(a, b, true, false).dataSync(); } finally { setMatMulRouting(previous); }
 */
export function setMatMulRouting(enabled: boolean): boolean {
  const previous = routingEnabled;
  routingEnabled = enabled;
  return previous;
}

/**
 * A snapshot of the patched kernels' counters.
 *
 * @example
 * const before = wasmKernelStats().routedTransposedMatMuls;
 * tf.matMul(a, b, true, false).dispose();
 * wasmKernelStats().routedTransposedMatMuls === before + 1; // on wasm
 */
export function wasmKernelStats(): Readonly<WasmKernelStats> {
  return { ...stats };
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

function routeToFastPath(kernelName: 'BatchMatMul' | '_FusedMatMul'): void {
  const original = tf.getKernel(kernelName, WASM);
  if (original == null) {
    throw new Error(`wasm kernel ${kernelName} is not registered: import tfjs-backend-wasm first`);
  }
  const kernelFunc: tf.KernelFunc = (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
    const a = args.inputs['a'] as tf.TensorInfo;
    const b = args.inputs['b'] as tf.TensorInfo;
    const single = batchSize(a) === 1 && batchSize(b) === 1;
    const float = a.dtype === 'float32' && b.dtype === 'float32';
    if (!routingEnabled || !float || (single && !transposeA && !transposeB)) {
      return original.kernelFunc(args);
    }
    const backend = args.backend as BackendWasm;
    if (transposeA || transposeB) stats.routedTransposedMatMuls++;
    // One product on the plain, unbatched fast path: [1, m, k] x [1, k, n] -> [1, m, n].
    const multiply = (x: tf.TensorInfo, y: tf.TensorInfo) =>
      original.kernelFunc({
        ...args,
        inputs: { ...args.inputs, a: x, b: y },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    const hasPreluWeights = args.inputs['preluActivationWeights'] != null;

    // Aᵀ Bᵀ = (B A)ᵀ: one transpose of the [m, n] product instead of the [k, m] and [n, k] operands.
    // Not for the fused kernel, whose bias and activation apply to the product itself.
    const [k, m] = a.shape.slice(-2) as [number, number];
    const n = b.shape.at(-2)!;
    if (kernelName === 'BatchMatMul' && transposeA && transposeB && m * n <= k * (m + n)) {
      const productT = multiplyPlain(b, a, multiply, backend, false); // [..., n, m]
      try {
        return swapLastTwo(backend, productT);
      } finally {
        backend.disposeData(productT.dataId);
      }
    }
    const plainA = transposeA ? swapLastTwo(backend, a) : a;
    const plainB = transposeB ? swapLastTwo(backend, b) : b;
    try {
      return multiplyPlain(plainA, plainB, multiply, backend, hasPreluWeights);
    } finally {
      if (plainA !== a) backend.disposeData(plainA.dataId);
      if (plainB !== b) backend.disposeData(plainB.dataId);
    }
  };
  tf.unregisterKernel(kernelName, WASM);
  // Keep the original setupFunc: it binds the C++ entry point the original kernelFunc calls.
  tf.registerKernel({ ...original, kernelFunc });
}

/** A new float32 wasm tensor holding `x` with its last two axes swapped: [..., r, c] -> [..., c, r]. */
function swapLastTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const [rows, cols] = x.shape.slice(-2) as [number, number];
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], 'float32');
  // Views taken after makeOutput: an allocation may grow (and detach) the wasm heap.
  const source = heapFloats(backend, x);
  const target = heapFloats(backend, out);
  const size = rows * cols;
  const block = 16; // 16x16 floats: source rows and target rows both stay in L1
  for (let offset = 0; offset < source.length; offset += size) {
    for (let r0 = 0; r0 < rows; r0 += block) {
      const rEnd = Math.min(r0 + block, rows);
      for (let c0 = 0; c0 < cols; c0 += block) {
        const cEnd = Math.min(c0 + block, cols);
        for (let r = r0; r < rEnd; r++) {
          const from = offset + r * cols;
          for (let c = c0; c < cEnd; c++) target[offset + c * rows + r] = source[from + c]!;
        }
      }
    }
  }
  return out;
}

/**
 * `a @ b` for untransposed operands `a: [...batchA, m, k]`, `b: [...batchB, k, n]`, through products
 * of single matrices only. Batches wasm's own kernel cannot broadcast, and PReLU weights (whose
 * per-item layout is unknown here), are left to that kernel.
 */
function multiplyPlain(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  multiply: (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo,
  backend: BackendWasm,
  hasPreluWeights: boolean,
): tf.TensorInfo {
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape.at(-1)!;
  const batchA = batchSize(a);
  const batchB = batchSize(b);
  const outShape = [
    ...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)),
    m,
    n,
  ];
  const as3d = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ ...x, shape });
  const withShape = (out: tf.TensorInfo): tf.TensorInfo => ({ ...out, shape: outShape });
  if (batchA === 1 && batchB === 1) {
    return withShape(multiply(as3d(a, [1, m, k]), as3d(b, [1, k, n])));
  }
  const splittable = batchA === batchB || batchA === 1 || batchB === 1;
  if (!splittable || hasPreluWeights) {
    return withShape(multiply(as3d(a, [batchA, m, k]), as3d(b, [batchB, k, n])));
  }
  stats.routedBatchedMatMuls++;
  if (batchB === 1) {
    // The same matrix for every batch item: stack the items' rows into one product.
    return withShape(multiply(as3d(a, [1, batchA * m, k]), as3d(b, [1, k, n])));
  }
  // One product per batch item, each operand copied out of its batch (XNNPACK caches packed
  // weights by tensor id, so every item needs a fresh `b` tensor).
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([batch, m, n], 'float32');
  try {
    for (let item = 0; item < batch; item++) {
      const aItem =
        batchA === 1 ? as3d(a, [1, m, k]) : copySlice(backend, a, item * m * k, [1, m, k]);
      const bItem = copySlice(backend, b, item * k * n, [1, k, n]);
      const scratch = aItem.dataId === a.dataId ? [bItem] : [aItem, bItem];
      try {
        const product = multiply(aItem, bItem);
        scratch.push(product);
        heapFloats(backend, out).set(heapFloats(backend, product), item * m * n);
      } finally {
        for (const x of scratch) backend.disposeData(x.dataId);
      }
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return withShape(out);
}

/** A new wasm tensor of `shape` holding `src`'s floats from `offset` on. */
function copySlice(
  backend: BackendWasm,
  src: tf.TensorInfo,
  offset: number,
  shape: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  const size = tf.util.sizeFromShape(shape);
  // Views taken after makeOutput: an allocation may grow (and detach) the wasm heap.
  heapFloats(backend, out).set(heapFloats(backend, src).subarray(offset, offset + size));
  return out;
}

function heapFloats(backend: BackendWasm, x: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(x) as Float32Array;
}

function batchSize(x: tf.TensorInfo): number {
  return tf.util.sizeFromShape(x.shape.slice(0, -2));
}

/**
 * `out[s, ...inner] = sum of x[i, ...inner] over i with segmentIds[i] = s`, the TensorFlow semantics:
 * `segmentIds` has the shape of a prefix of `x`'s shape; ids outside [0, numSegments) are dropped,
 * as on the cpu backend.
 */
function registerUnsortedSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', WASM) != null) return; // a later tfjs may ship one
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const x = inputs['x'] as tf.TensorInfo; // [...idsShape, ...inner]
    const segmentIds = inputs['segmentIds'] as tf.TensorInfo; // idsShape, int32
    const numSegments = (attrs as { numSegments: number }).numSegments;
    const idsShape = segmentIds.shape;
    if (!idsShape.every((size, axis) => x.shape[axis] === size)) {
      throw new KernelInputError(
        'UnsortedSegmentSum',
        `segmentIds shape [${idsShape}] must be a prefix of x shape [${x.shape}]`,
      );
    }
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new KernelInputError(
        'UnsortedSegmentSum',
        `x dtype ${x.dtype} is not float32 or int32`,
      );
    }
    const innerShape = x.shape.slice(idsShape.length);
    const inner = tf.util.sizeFromShape(innerShape);
    const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype); // [numSegments, ...inner]
    // Views taken after makeOutput: an allocation may grow (and detach) the wasm heap.
    const outValues = wasm.typedArrayFromHeap(out);
    const xValues = wasm.typedArrayFromHeap(x);
    const ids = wasm.typedArrayFromHeap(segmentIds);
    outValues.fill(0);
    for (let row = 0; row < ids.length; row++) {
      const segment = ids[row]!;
      if (segment < 0 || segment >= numSegments) continue;
      const from = row * inner;
      const to = segment * inner;
      for (let k = 0; k < inner; k++) outValues[to + k]! += xValues[from + k]!;
    }
    stats.unsortedSegmentSums++;
    return out;
  };
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: WASM, kernelFunc });
}
