/**
 * Distributed-mode workers as child processes (workerProcess.ts), for tests that need real
 * processes: several agents at once on two cores, and SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const workerPath = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));

export interface WorkerProcess {
  readonly agent: string;
  readonly child: ChildProcess;
  /** Resolves once the worker's consumer has joined its group. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Stage passes and requests run so far. */
  readonly stats: { batches: number; groups: number };
  /** The last `metrics`, `stopped` or `error` line, parsed. */
  last?: { event: string; message?: string; metrics?: Record<string, unknown> };
  /** Group, drain and commit events (for diagnosis), as printed. */
  readonly log: string[];
}

/**
 * Starts a worker process with `config` (RunWorkerOptions as JSON: ir, agent, brokers, ...).
 *
 * @example const w = startWorkerProcess({ ir, agent: 'math', brokers, topicPrefix }); await w.ready;
 */
export function startWorkerProcess(
  config: { agent: string } & Record<string, unknown>,
): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
    env: { ...process.env, RMAS_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let markReady!: () => void;
  let failStart!: (error: Error) => void;
  const worker: WorkerProcess = {
    agent: config.agent,
    child,
    ready: new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    }),
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    stats: { batches: 0, groups: 0 },
    log: [],
  };
  void worker.exited.then((code) =>
    failStart(new Error(`worker ${config.agent} exited (${code}) before it was ready`)),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let event: { event: string; size?: number };
    try {
      event = JSON.parse(line);
    } catch {
      process.stdout.write(`[${config.agent}] ${line}\n`);
      return;
    }
    if (event.event === 'ready') markReady();
    else if (event.event === 'batch') {
      worker.stats.batches++;
      worker.stats.groups += event.size ?? 0;
    } else if (event.event === 'metrics' || event.event === 'stopped' || event.event === 'error') {
      worker.last = event;
    } else worker.log.push(line);
  });
  return worker;
}

/** SIGTERM (graceful stop) to every worker still running; resolves when all have exited. */
export async function stopWorkers(workers: readonly WorkerProcess[]): Promise<(number | null)[]> {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGTERM');
  return Promise.all(workers.map((worker) => worker.exited));
}
