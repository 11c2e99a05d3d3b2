import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelInputError } from './errors.ts';

// Two gaps of @tensorflow/tfjs-backend-wasm 4.22.0 that training hits on every step:
// - `UnsortedSegmentSum` is not registered, and the gradient of `tf.gather` (embedding tables) needs it;
// - `BatchMatMul` / `_FusedMatMul` with transposeA or transposeB fall off the XNNPACK fast path and run
//   ~10-20x slower than the plain case, yet every weight gradient asks for a transposed operand.
// `installWasmKernels()` registers the first and wraps the second: a transposed operand is materialised
// with the wasm `Transpose` kernel (O(n^2) copies) and the plain, fast kernel does the O(n^3) work.

const WASM = 'wasm';

/** Counters that let tests and benchmarks see the patched kernels at work. */
export interface WasmKernelStats {
  /** Matmuls (forward or gradient) whose transposed operand(s) were materialised. */
  routedTransposedMatMuls: number;
  /** Calls of the `UnsortedSegmentSum` kernel registered here. */
  unsortedSegmentSums: number;
}

const stats: WasmKernelStats = { routedTransposedMatMuls: 0, unsortedSegmentSums: 0 };
let routeTransposed = true;
let installed = false;

/**
 * Registers the missing wasm kernels and wraps the transposed matmuls, once per process. Must run
 * after `@tensorflow/tfjs-backend-wasm` is imported (its kernels register on import) and before the
 * wasm backend is used; `initBackend()` / `useBackend('wasm')` call it for you.
 *
 * @example
 * await import('@tensorflow/tfjs-backend-wasm');
 * installWasmKernels();
 * await tf.setBackend('wasm');
 */
export function installWasmKernels(): void {
  if (installed) return;
  registerUnsortedSegmentSum();
  routeTransposedOperands('BatchMatMul');
  routeTransposedOperands('_FusedMatMul');
  installed = true;
}

/**
 * Turns the transposed-matmul routing on (default) or off, for benchmarks that measure the unpatched
 * kernel in the same process. Returns the previous setting.
 *
 * @example
 * const previous = setTransposedMatMulRouting(false);
 * try { tf.matMul(a, b, true, false).dataSync(); } finally { setTransposedMatMulRouting(previous); }
 */
export function setTransposedMatMulRouting(enabled: boolean): boolean {
  const previous = routeTransposed;
  routeTransposed = enabled;
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

function routeTransposedOperands(kernelName: 'BatchMatMul' | '_FusedMatMul'): void {
  const original = tf.getKernel(kernelName, WASM);
  const transpose = tf.getKernel('Transpose', WASM);
  if (original == null || transpose == null) {
    throw new Error(
      `wasm kernels ${kernelName}/Transpose are not registered: import tfjs-backend-wasm first`,
    );
  }
  // Swaps the last two axes of `x` (any rank >= 2) into a new wasm tensor.
  const swapLastTwo = (x: tf.TensorInfo, backend: BackendWasm): tf.TensorInfo => {
    const perm = x.shape.map((_, axis) => axis);
    const rank = perm.length;
    [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
    return transpose.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
  };
  const kernelFunc: tf.KernelFunc = (args) => {
    const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
    if (!routeTransposed || (!transposeA && !transposeB)) return original.kernelFunc(args);
    const backend = args.backend as BackendWasm;
    const a = args.inputs['a'] as tf.TensorInfo;
    const b = args.inputs['b'] as tf.TensorInfo;
    const plainA = transposeA ? swapLastTwo(a, backend) : a;
    const plainB = transposeB ? swapLastTwo(b, backend) : b;
    stats.routedTransposedMatMuls++;
    try {
      return original.kernelFunc({
        ...args,
        inputs: { ...args.inputs, a: plainA, b: plainB },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      if (plainA !== a) backend.disposeData(plainA.dataId);
      if (plainB !== b) backend.disposeData(plainB.dataId);
    }
  };
  tf.unregisterKernel(kernelName, WASM);
  // Keep the original setupFunc: it binds the C++ entry point the original kernelFunc calls.
  tf.registerKernel({ ...original, kernelFunc });
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
