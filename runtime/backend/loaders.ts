import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo, BackendName } from './backendInfo.ts';
import { BackendUnavailableError } from './errors.ts';
import { installWasmKernels } from './wasmKernels.ts';

type LoadedBackend = Omit<BackendInfo, 'fellBackFrom' | 'fallbackReason'>;
/** Describes a loaded backend; called once it is active (the wasm thread count is known only then). */
type Describe = () => LoadedBackend;

// Native TensorFlow bindings, fastest first. Both are optionalDependencies whose install downloads
// libtensorflow, so they are usually absent: imported by a computed specifier, never statically.
const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const require = createRequire(import.meta.url);
const prepared = new Map<BackendName, Promise<Describe>>();

/**
 * Makes `name` the active tf backend, loading it (and its kernel patches) on first use.
 * Throws {@link BackendUnavailableError} when it cannot load here.
 *
 * @example
 * const info = await activateBackend('wasm'); // { name: 'wasm', version: '4.22.0', simd: true, threads: 1 }
 */
export async function activateBackend(name: BackendName): Promise<LoadedBackend> {
  let loading = prepared.get(name);
  if (loading == null) {
    loading = PREPARE[name]();
    prepared.set(name, loading);
  }
  const describe = await loading;
  let switched: boolean;
  try {
    switched = await tf.setBackend(name);
  } catch (error) {
    throw new BackendUnavailableError(name, firstLine(error), { cause: error });
  }
  if (!switched) throw new BackendUnavailableError(name, `tf.setBackend('${name}') returned false`);
  return describe();
}

/**
 * Backends whose packages resolve from here, without loading them (synchronous, cheap). A listed
 * backend can still fail to load; `activateBackend` then says why.
 *
 * @example
 * installedBackends(); // ['wasm', 'cpu'] on a machine without tfjs-node
 */
export function installedBackends(): BackendName[] {
  const names: BackendName[] = [];
  if (TENSORFLOW_PACKAGES.some(resolves)) names.push('tensorflow');
  if (resolves('@tensorflow/tfjs-backend-wasm')) names.push('wasm');
  names.push('cpu');
  return names;
}

const PREPARE: Record<BackendName, () => Promise<Describe>> = {
  async tensorflow() {
    const failures: string[] = [];
    for (const specifier of TENSORFLOW_PACKAGES) {
      try {
        const binding = (await import(specifier as string)) as { version?: Record<string, string> };
        const version = binding.version?.['tfjs-node'] ?? tf.version_core;
        return () => ({
          name: 'tensorflow',
          version,
          simd: false,
          threads: os.availableParallelism(),
        });
      } catch (error) {
        failures.push(`${specifier}: ${firstLine(error)}`);
      }
    }
    throw new BackendUnavailableError('tensorflow', failures.join('; '));
  },

  async wasm() {
    let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
    try {
      wasm = await import('@tensorflow/tfjs-backend-wasm');
    } catch (error) {
      throw new BackendUnavailableError('wasm', firstLine(error), { cause: error });
    }
    // In Node the .wasm binaries are read from disk: point the loader at the package's dist/ folder.
    // setWasmPaths throws once the backend is initialised, i.e. if someone set it up before us.
    if (tf.findBackend('wasm') == null) {
      const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      wasm.setWasmPaths(dist + path.sep);
    }
    installWasmKernels(); // before the first wasm op, so no op ever runs unpatched
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
    // Threads need worker support that tfjs-backend-wasm disables in Node (tfjs#3830): expect 1.
    return () => ({
      name: 'wasm',
      version: wasm.version_wasm,
      simd,
      threads: wasm.getThreadsCount(),
    });
  },

  async cpu() {
    const version = tf.version['tfjs-backend-cpu'] ?? tf.version_core;
    return () => ({ name: 'cpu', version, simd: false, threads: 1 });
  },
};

function resolves(specifier: string): boolean {
  try {
    require.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

function firstLine(error: unknown): string {
  if ((error as { code?: unknown } | null)?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0] ?? message;
}
