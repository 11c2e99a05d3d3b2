/**
 * A runtime worker thread: its own TensorFlow.js backend, its own copy of the agents and links,
 * and the same stream engine as the main thread, fed by the pool's messages. Started by
 * pool.ts through bootstrap.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Subject } from 'rxjs';
import { deserializeLink } from '../../operators/links/linkStore.ts';
import type { RecursiveLink } from '../../operators/links/recursiveLink.ts';
import { initBackend } from '../backend/index.ts';
import { preparePlan } from '../compile.ts';
import { runPlan } from '../engine.ts';
import { errorCode, errorMessage } from '../errors.ts';
import { disposeLinks } from '../links.ts';
import type { Request } from '../messages.ts';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

try {
  const backend = await initBackend({ backend: init.backend ?? 'auto', log: false });
  let given: Map<string, RecursiveLink> | undefined;
  if ('serialized' in init.links) {
    given = new Map(
      init.links.serialized.map((l) => [l.id, deserializeLink(l.manifest, l.weights)]),
    );
  }
  const prepared = await preparePlan(init.ir, init.mode, {
    links: given ?? (init.links as { seed: number } | { dir: string }),
    seed: init.seed,
    documents: init.documents,
    handoffTokens: init.handoffTokens,
  });
  const requests = new Subject<Request>();
  requests
    .pipe(
      runPlan(prepared.plan, {
        batching: init.batching,
        queue: { capacity: init.capacity, policy: 'reject' },
        onBatch: init.reportBatches ? (event) => post({ type: 'batch', event }) : undefined,
      }),
    )
    .subscribe({
      next: (answer) => post({ type: 'answer', answer }),
      error: (error) =>
        post({ type: 'failed', code: errorCode(error), message: errorMessage(error) }),
      complete: () => {
        prepared.release();
        if (given !== undefined) disposeLinks(given);
        post({ type: 'closed' });
        port.close(); // nothing else keeps the thread alive: it exits
      },
    });
  port.on('message', (message: ToWorker) => {
    if (message.type === 'request') requests.next(message.request);
    else requests.complete();
  });
  post({ type: 'ready', backend: backend.name });
} catch (error) {
  post({ type: 'failed', code: errorCode(error), message: errorMessage(error) });
}
