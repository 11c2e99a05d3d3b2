/**
 * A distributed-mode worker in its own process (tests kill it with SIGKILL). Configured by the
 * JSON in RMAS_WORKER (the fields of RunWorkerOptions that are data: ir, agent, brokers,
 * topicPrefix, guarantee, instance, links, maxBatchSize, consumerConfig...). Prints one JSON
 * line per event on stdout: ready, batch (stage, size), stopped, error. SIGTERM stops gracefully.
 */

import { logLevel } from 'kafkajs';
import { type RunWorkerOptions, runWorker } from '../../../connectors/distributed/index.ts';
import { initBackend } from '../../../runtime/index.ts';

const say = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);
const config = JSON.parse(process.env['RMAS_WORKER'] ?? '{}') as RunWorkerOptions;

await initBackend({ backend: 'wasm', strict: true, log: false });
const worker = await runWorker({
  ...config,
  // Fast, long retries: a test restarts the broker under the workers. Quiet unless asked.
  kafkaConfig: {
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 60 },
    logLevel: process.env['KAFKAJS_LOG_LEVEL'] === 'debug' ? logLevel.DEBUG : logLevel.NOTHING,
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
process.removeAllListeners('SIGTERM');
process.once('SIGTERM', () => void worker.stop());
try {
  await worker.done;
  say({ event: 'stopped', metrics: worker.metrics });
  process.exit(0);
} catch (error) {
  say({ event: 'error', message: String(error), metrics: worker.metrics });
  process.exit(1);
}
