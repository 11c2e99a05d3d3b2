import * as tf from '@tensorflow/tfjs';
import { BACKEND_NAMES, type BackendInfo, type BackendName, isBackendName } from './backendInfo.ts';
import {
  BackendNotInitializedError,
  BackendUnavailableError,
  UnknownBackendError,
} from './errors.ts';
import { activateBackend } from './loaders.ts';

/** How `initBackend` chooses; every field defaults from the environment. */
export interface InitBackendOptions {
  /** Force this backend. Default: `RMAS_BACKEND` (`tensorflow` | `wasm` | `cpu` | `auto`), else auto. */
  backend?: BackendName | 'auto';
  /** A forced backend that cannot load is an error, not a fallback. Default: `RMAS_BACKEND_STRICT=1`. */
  strict?: boolean;
  /** Where the one-line choice goes: true = stderr, false = nowhere. Default: stderr unless `RMAS_BACKEND_QUIET=1`. */
  log?: boolean | ((line: string) => void);
}

/** The request `initBackend` acts on, after options and environment are merged. */
export interface BackendRequest {
  backend: BackendName | 'auto';
  strict: boolean;
}

let chosen: Promise<BackendInfo> | undefined;
let chosenInfo: BackendInfo | undefined;
const activeInfos = new Map<BackendName, BackendInfo>();

/**
 * Chooses and activates the tensor backend, once per process: tensorflow (tfjs-node-gpu, then
 * tfjs-node) → wasm → cpu, or the one forced by `RMAS_BACKEND` / `options.backend`. Logs the choice
 * in one stderr line. Later calls return the first call's result and ignore their options.
 * Call it before the first tf op: it also registers the wasm kernel fixes.
 *
 * @example
 * const info = await initBackend(); // { name: 'wasm', version: '4.22.0', simd: true, threads: 1, fellBackFrom: 'tensorflow', ... }
 * await initBackend({ backend: 'cpu', strict: true, log: false });
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  chosen ??= choose(options);
  return chosen;
}

/**
 * The active backend's description. Throws {@link BackendNotInitializedError} before `initBackend()`
 * or if tf was switched by hand to a backend this layer did not set up.
 *
 * @example
 * await initBackend();
 * if (backendInfo().name === 'cpu') console.warn('slow backend');
 */
export function backendInfo(): BackendInfo {
  const active = tf.getBackend() as string | null;
  const info = active != null && isBackendName(active) ? activeInfos.get(active) : undefined;
  if (info == null) throw new BackendNotInitializedError(activeInfos.size === 0 ? null : active);
  return info;
}

/**
 * Switches tf to the named backend (loading it and its kernel fixes on first use), with no fallback:
 * throws {@link BackendUnavailableError} if it cannot load. For tests that run on every backend.
 *
 * @example
 * const previous = tf.getBackend();
 * await useBackend('cpu');
 * // ... ops on cpu ...
 * await tf.setBackend(previous);
 */
export async function useBackend(name: BackendName): Promise<BackendInfo> {
  if (!isBackendName(name)) throw new UnknownBackendError(String(name), 'useBackend');
  const loaded = await activateBackend(name);
  const info = chosenInfo?.name === name ? chosenInfo : loaded;
  activeInfos.set(name, info);
  return info;
}

/**
 * Merges options over the environment (`RMAS_BACKEND`, `RMAS_BACKEND_STRICT`); throws
 * {@link UnknownBackendError} for a name that is not a backend.
 *
 * @example
 * resolveBackendRequest({}, { RMAS_BACKEND: 'cpu', RMAS_BACKEND_STRICT: '1' }); // { backend: 'cpu', strict: true }
 */
export function resolveBackendRequest(
  options: Pick<InitBackendOptions, 'backend' | 'strict'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): BackendRequest {
  const fromEnv = env['RMAS_BACKEND']?.trim().toLowerCase() || 'auto';
  const backend = options.backend ?? fromEnv;
  if (backend !== 'auto' && !isBackendName(backend)) {
    throw new UnknownBackendError(
      backend,
      options.backend == null ? 'RMAS_BACKEND' : 'initBackend({ backend })',
    );
  }
  const strict = options.strict ?? env['RMAS_BACKEND_STRICT'] === '1';
  return { backend, strict };
}

/**
 * The backends to try, in order: the forced one alone when strict, else it and the ones after it in
 * the preference order (cpu, last, always loads).
 *
 * @example
 * backendCandidates({ backend: 'auto', strict: false }); // ['tensorflow', 'wasm', 'cpu']
 * backendCandidates({ backend: 'wasm', strict: true }); // ['wasm']
 */
export function backendCandidates(request: BackendRequest): BackendName[] {
  if (request.backend === 'auto') return [...BACKEND_NAMES];
  if (request.strict) return [request.backend];
  return BACKEND_NAMES.slice(BACKEND_NAMES.indexOf(request.backend));
}

async function choose(options: InitBackendOptions): Promise<BackendInfo> {
  const request = resolveBackendRequest(options);
  const failures: BackendUnavailableError[] = [];
  for (const name of backendCandidates(request)) {
    try {
      const loaded = await activateBackend(name);
      const first = failures[0];
      const info: BackendInfo =
        first == null
          ? loaded
          : {
              ...loaded,
              fellBackFrom: first.backend,
              fallbackReason: failures.map((f) => `${f.backend}: ${f.reason}`).join('; '),
            };
      chosenInfo = info;
      activeInfos.set(name, info);
      logChoice(info, options.log);
      return info;
    } catch (error) {
      if (!(error instanceof BackendUnavailableError)) throw error;
      failures.push(error);
      if (request.strict && request.backend !== 'auto') throw error;
    }
  }
  // Unreachable while cpu ships with @tensorflow/tfjs; kept so a broken install fails loudly.
  throw failures.at(-1) ?? new BackendUnavailableError('cpu', 'no backend could be loaded');
}

function logChoice(info: BackendInfo, log: InitBackendOptions['log']): void {
  const enabled = log ?? process.env['RMAS_BACKEND_QUIET'] !== '1';
  if (enabled === false) return;
  const features = [
    info.simd ? 'simd' : 'no simd',
    `${info.threads} thread${info.threads === 1 ? '' : 's'}`,
  ];
  const fallback = info.fellBackFrom == null ? '' : `; fell back: ${info.fallbackReason}`;
  const line = `rmas: tensor backend ${info.name} ${info.version} (${features.join(', ')})${fallback}`;
  if (typeof enabled === 'function') enabled(line);
  else process.stderr.write(`${line}\n`);
}
