/** The tensor backends rmas can run on, in the order they are preferred. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;

/** `tensorflow` = libtensorflow through tfjs-node(-gpu); `wasm` = XNNPACK in WebAssembly; `cpu` = pure JS. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What runs the tensors, as chosen by `initBackend()` or `useBackend()`. */
export interface BackendInfo {
  readonly name: BackendName;
  /** Version of the package providing the backend (e.g. `@tensorflow/tfjs-backend-wasm`). */
  readonly version: string;
  /** wasm: the SIMD build is loaded. Always false for the other backends. */
  readonly simd: boolean;
  /** Threads one op may use: 1 for wasm in Node (no worker support) and for cpu. */
  readonly threads: number;
  /** The first backend tried that could not load, when the chosen one is a fallback. */
  readonly fellBackFrom?: BackendName;
  /** Why the backends before this one could not load. */
  readonly fallbackReason?: string;
}

/** True when `name` is one of {@link BACKEND_NAMES}. */
export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}
