import type { BackendName } from './backendInfo.ts';

/** Codes of the errors this layer throws; stable, for `switch (error.code)`. */
export type BackendErrorCode =
  | 'BACKEND_UNKNOWN'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_NOT_INITIALIZED'
  | 'BACKEND_KERNEL_INPUT';

/** Base class of every error thrown by `runtime/backend`. */
export class BackendError extends Error {
  readonly code: BackendErrorCode;
  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A backend name that is not one of `tensorflow`, `wasm`, `cpu` (typically a typo in `RMAS_BACKEND`).
 *
 * @example
 * try { await initBackend({ backend: 'gpu' as BackendName }); }
 * catch (e) { if (e instanceof UnknownBackendError) console.error(e.message); }
 */
export class UnknownBackendError extends BackendError {
  readonly requested: string;
  constructor(requested: string, where: string) {
    super(
      'BACKEND_UNKNOWN',
      `${where}: unknown backend '${requested}'; expected one of tensorflow, wasm, cpu (or auto)`,
    );
    this.requested = requested;
  }
}

/**
 * A backend that could not be loaded. Thrown when a backend is forced with strict mode on
 * (`RMAS_BACKEND_STRICT=1`), or by `useBackend` for a backend that cannot load here.
 */
export class BackendUnavailableError extends BackendError {
  readonly backend: BackendName;
  readonly reason: string;
  constructor(backend: BackendName, reason: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', `backend '${backend}' is unavailable: ${reason}`, options);
    this.backend = backend;
    this.reason = reason;
  }
}

/** `backendInfo()` was called before `initBackend()` / `useBackend()` activated a backend. */
export class BackendNotInitializedError extends BackendError {
  constructor(active: string | null) {
    super(
      'BACKEND_NOT_INITIALIZED',
      active == null
        ? 'no backend is active yet: call `await initBackend()` before using tf'
        : `the active tf backend '${active}' was not set up by initBackend()/useBackend()`,
    );
  }
}

/** Bad input reaching one of the kernels this layer registers (e.g. mismatched shapes). */
export class KernelInputError extends BackendError {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super('BACKEND_KERNEL_INPUT', `${kernel}: ${message}`);
    this.kernel = kernel;
  }
}
