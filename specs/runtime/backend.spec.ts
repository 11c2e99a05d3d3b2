import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  BackendNotInitializedError,
  backendCandidates,
  backendInfo,
  initBackend,
  installedBackends,
  resolveBackendRequest,
  UnknownBackendError,
} from '../../runtime/backend/index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tensorflowInstalled = installedBackends().includes('tensorflow');

describe('backend request from options and environment', () => {
  it('defaults to auto, non-strict', () => {
    expect(resolveBackendRequest({}, {})).toEqual({ backend: 'auto', strict: false });
    expect(resolveBackendRequest({}, { RMAS_BACKEND: '' })).toEqual({
      backend: 'auto',
      strict: false,
    });
  });

  it('reads RMAS_BACKEND (trimmed, any case) and RMAS_BACKEND_STRICT=1', () => {
    expect(resolveBackendRequest({}, { RMAS_BACKEND: ' CPU ', RMAS_BACKEND_STRICT: '1' })).toEqual({
      backend: 'cpu',
      strict: true,
    });
    expect(resolveBackendRequest({}, { RMAS_BACKEND: 'wasm', RMAS_BACKEND_STRICT: '0' })).toEqual({
      backend: 'wasm',
      strict: false,
    });
  });

  it('lets options override the environment', () => {
    const env = { RMAS_BACKEND: 'cpu', RMAS_BACKEND_STRICT: '1' };
    expect(resolveBackendRequest({ backend: 'wasm', strict: false }, env)).toEqual({
      backend: 'wasm',
      strict: false,
    });
  });

  it('rejects an unknown name with a typed error that says where it came from', () => {
    const attempt = () => resolveBackendRequest({}, { RMAS_BACKEND: 'gpu' });
    expect(attempt).toThrow(UnknownBackendError);
    expect(attempt).toThrow(/RMAS_BACKEND: unknown backend 'gpu'/);
    try {
      attempt();
    } catch (error) {
      expect((error as UnknownBackendError).code).toBe('BACKEND_UNKNOWN');
    }
  });

  it('tries tensorflow → wasm → cpu; a forced backend falls back down the list unless strict', () => {
    expect(backendCandidates({ backend: 'auto', strict: false })).toEqual([
      'tensorflow',
      'wasm',
      'cpu',
    ]);
    expect(backendCandidates({ backend: 'auto', strict: true })).toEqual([
      'tensorflow',
      'wasm',
      'cpu',
    ]);
    expect(backendCandidates({ backend: 'tensorflow', strict: false })).toEqual([
      'tensorflow',
      'wasm',
      'cpu',
    ]);
    expect(backendCandidates({ backend: 'wasm', strict: false })).toEqual(['wasm', 'cpu']);
    expect(backendCandidates({ backend: 'cpu', strict: false })).toEqual(['cpu']);
    expect(backendCandidates({ backend: 'tensorflow', strict: true })).toEqual(['tensorflow']);
  });
});

describe('initBackend in this process', () => {
  it('backendInfo() before initBackend() is a typed error', () => {
    expect(() => backendInfo()).toThrow(BackendNotInitializedError);
  });

  it('chooses once, logs one line, and reports the active tf backend', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (line) => lines.push(line) });
    const again = await initBackend({ backend: 'cpu', log: (line) => lines.push(line) });
    expect(again).toBe(info); // idempotent: the second call's options are ignored
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^rmas: tensor backend ${info.name} \\d+\\.\\d+\\.\\d+ \\(`),
    );
    expect(tf.getBackend()).toBe(info.name);
    expect(backendInfo()).toEqual(info);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    // The automatic choice, when the run does not force one (RMAS_BACKEND=cpu runs this file too).
    const forced = process.env['RMAS_BACKEND'];
    if (forced && forced !== 'auto') {
      expect(info.name).toBe(forced);
    } else if (!tensorflowInstalled) {
      expect(info).toMatchObject({
        name: 'wasm',
        simd: true,
        threads: 1,
        fellBackFrom: 'tensorflow',
      });
      expect(info.fallbackReason).toMatch(
        /tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/,
      );
    }
  });
});

interface ChildOutcome {
  info?: { name: string; fellBackFrom?: string; simd: boolean; threads: number };
  active?: string;
  error?: { code: string; name: string; message: string };
  stderrLines: string[];
}

// End to end: a fresh `npx tsx -e` process per environment, as a user would start rmas.
function selectInChild(env: Record<string, string>): Promise<ChildOutcome> {
  const entry = JSON.stringify(path.join(repoRoot, 'runtime/backend/index.ts'));
  const script = `(async () => {
    const tf = await import('@tensorflow/tfjs');
    const { initBackend } = await import(${entry});
    try {
      const info = await initBackend();
      console.log(JSON.stringify({ info, active: tf.getBackend() }));
    } catch (e) {
      console.log(JSON.stringify({ error: { code: e.code, name: e.name, message: e.message } }));
    }
  })();`;
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const key of ['RMAS_BACKEND', 'RMAS_BACKEND_STRICT', 'RMAS_BACKEND_QUIET']) {
    if (!(key in env)) delete childEnv[key];
  }
  return new Promise((resolve, reject) => {
    execFile(
      'npx',
      ['tsx', '-e', script],
      { cwd: repoRoot, env: childEnv },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`child failed: ${error.message}\n${stderr}`));
        const lastLine = stdout.trim().split('\n').at(-1) ?? '';
        const stderrLines = stderr.split('\n').filter((line) => line.startsWith('rmas:'));
        resolve({ ...(JSON.parse(lastLine) as Omit<ChildOutcome, 'stderrLines'>), stderrLines });
      },
    );
  });
}

describe('backend selection end to end (child processes)', () => {
  it('honours RMAS_BACKEND, RMAS_BACKEND_STRICT and RMAS_BACKEND_QUIET', async () => {
    const [auto, cpu, wasmStrict, tensorflow, tensorflowStrict, unknown, quiet] = await Promise.all(
      [
        selectInChild({}),
        selectInChild({ RMAS_BACKEND: 'cpu' }),
        selectInChild({ RMAS_BACKEND: 'wasm', RMAS_BACKEND_STRICT: '1' }),
        selectInChild({ RMAS_BACKEND: 'tensorflow' }),
        selectInChild({ RMAS_BACKEND: 'tensorflow', RMAS_BACKEND_STRICT: '1' }),
        selectInChild({ RMAS_BACKEND: 'bogus' }),
        selectInChild({ RMAS_BACKEND: 'cpu', RMAS_BACKEND_QUIET: '1' }),
      ],
    );

    const best = tensorflowInstalled ? 'tensorflow' : 'wasm';
    expect(auto.info?.name).toBe(best);
    expect(auto.active).toBe(best);
    expect(auto.stderrLines).toHaveLength(1);
    expect(auto.stderrLines[0]).toMatch(new RegExp(`^rmas: tensor backend ${best} `));

    expect(cpu.info).toMatchObject({ name: 'cpu', simd: false, threads: 1 });
    expect(cpu.info?.fellBackFrom).toBeUndefined();
    expect(cpu.active).toBe('cpu');
    expect(cpu.stderrLines).toEqual([expect.stringMatching(/^rmas: tensor backend cpu /)]);

    expect(wasmStrict.info).toMatchObject({ name: 'wasm', simd: true, threads: 1 });
    expect(wasmStrict.active).toBe('wasm');

    if (tensorflowInstalled) {
      expect(tensorflow.info?.name).toBe('tensorflow');
      expect(tensorflowStrict.info?.name).toBe('tensorflow');
    } else {
      expect(tensorflow.info).toMatchObject({ name: 'wasm', fellBackFrom: 'tensorflow' });
      expect(tensorflow.active).toBe('wasm');
      expect(tensorflow.stderrLines[0]).toMatch(/fell back: tensorflow: .*not installed/);
      expect(tensorflowStrict.info).toBeUndefined();
      expect(tensorflowStrict.error).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        name: 'BackendUnavailableError',
      });
      expect(tensorflowStrict.error?.message).toMatch(/backend 'tensorflow' is unavailable/);
    }

    expect(unknown.error).toMatchObject({ code: 'BACKEND_UNKNOWN', name: 'UnknownBackendError' });
    expect(unknown.error?.message).toMatch(/RMAS_BACKEND: unknown backend 'bogus'/);

    expect(quiet.info?.name).toBe('cpu');
    expect(quiet.stderrLines).toEqual([]);
  }, 180_000); // seven fresh Node processes on a shared 2-core machine
});
