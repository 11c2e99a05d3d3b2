/**
 * The tensor backend layer: which TensorFlow.js backend runs the tensors, and the kernel fixes that
 * make the wasm backend fit for training. Call `await initBackend()` once, before the first tf op.
 *
 * @example
 * import { initBackend, backendInfo } from './runtime/backend/index.ts';
 * await initBackend();            // RMAS_BACKEND=cpu|wasm|tensorflow forces one
 * console.log(backendInfo().name); // 'wasm' on machines without tfjs-node
 */
export { BACKEND_NAMES, type BackendInfo, type BackendName, isBackendName } from './backendInfo.ts';
export {
  BackendError,
  type BackendErrorCode,
  BackendNotInitializedError,
  BackendUnavailableError,
  KernelInputError,
  UnknownBackendError,
} from './errors.ts';
export {
  type BackendRequest,
  backendCandidates,
  backendInfo,
  type InitBackendOptions,
  initBackend,
  resolveBackendRequest,
  useBackend,
} from './initBackend.ts';
export { installedBackends } from './loaders.ts';
export {
  setMatMulRouting,
  type WasmKernelStats,
  wasmKernelStats,
} from './wasmKernels.ts';
