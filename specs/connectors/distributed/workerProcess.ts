/**
 * A distributed-mode worker in its own process (tests kill it with SIGKILL). Configured by the
 * JSON in RMAS_WORKER (the fields of RunWorkerOptions that are data: ir, agent, brokers,
 * topicPrefix, guarantee, instance, links, maxBatchSize, consumerConfig...). Prints one JSON
 * line per event on stdout: ready, batch (stage, size), stopped, error. SIGTERM stops gracefully.
 */

import { appendFileSync } from 'node:fs';
import { logLevel } from 'kafkajs';
import { type RunWorkerOptions, runWorker } from '../../../connectors/distributed/index.ts';
import { initBackend } from '../../../runtime/index.ts';

const say = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);
// RMAS_WORKER_LOG_DIR: kafkajs debug logs, one file per worker process.
const logDir = process.env['RMAS_WORKER_LOG_DIR'];
const config = JSON.parse(process.env['RMAS_WORKER'] ?? '{}') as RunWorkerOptions;

await initBackend({ backend: 'wasm', strict: true, log: false });
const worker = await runWorker({
  ...config,
  // Fast, long retries: a test restarts the broker under the workers. Quiet unless asked.
  kafkaConfig: {
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 60 },
    logLevel: logDir ? logLevel.DEBUG : logLevel.NOTHING,
    ...(logDir
      ? {
          logCreator: () => (entry: { namespace: string; label: string; log: object }) =>
            appendFileSync(
              `${logDir}/${config.agent}-${process.pid}.log`,
              `${JSON.stringify({ ns: entry.namespace, level: entry.label, ...entry.log })}\n`,
            ),
        }
      : {}),
  },
  onBatch: (e) =>
    say({
      event: 'batch',
      stage: e.stage,
      size: e.requestIds.length,
      ms: e.durationMs,
      at: Date.now(),
    }),
});
void worker.ready.then(() => say({ event: 'ready' }));
// Group and commit events, for the test's diagnosis when something hangs.
for (const name of ['source.rebalance', 'source.drain', 'source.rewind', 'source.pause'] as const) {
  worker.events.on(name, (payload) => say({ event: name, at: Date.now(), payload }));
}
worker.events.on('commit.error', ({ error }) =>
  say({ event: 'commit.error', at: Date.now(), message: String(error) }),
);
worker.events.on('transaction.abort', ({ error }) =>
  say({ event: 'transaction.abort', at: Date.now(), message: String(error) }),
);
// Progress for the test's logs, and what it prints when something hangs.
const progress = setInterval(() => say({ event: 'metrics', metrics: worker.metrics }), 1_000);
process.removeAllListeners('SIGTERM');
process.once('SIGTERM', () => void worker.stop());
try {
  await worker.done;
  clearInterval(progress);
  say({ event: 'stopped', metrics: worker.metrics });
  process.exit(0);
} catch (error) {
  clearInterval(progress);
  say({ event: 'error', message: String(error), metrics: worker.metrics });
  process.exit(1);
}
