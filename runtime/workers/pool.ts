/**
 * Both cores: wasm runs one thread per process, so a pool of worker threads, each with its own
 * TensorFlow.js backend and its own copy of the agents and links, runs separate batches in
 * parallel. The pool places whole requests (data parallelism): a request goes to the worker with
 * the fewest requests in flight and runs all its rounds there, batched with that worker's other
 * requests; the main thread only admits, routes and answers.
 *
 * What crosses threads is data: the IR, the links (serialized, or a seed or folder to make them
 * from), requests and answers. Models are loaded by each worker from the IR's model references,
 * so agents passed as objects, custom tools and a stop predicate (functions) cannot be used here.
 */
import { Worker } from 'node:worker_threads';
import { Observable, type OperatorFunction } from 'rxjs';
import type { Mode } from '../../dsl/graph.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import type { Topology } from '../../dsl/topology.ts';
import { serializeLink } from '../../operators/links/linkStore.ts';
import type { SearchDocument } from '../../operators/tools/search.ts';
import type { BackendName } from '../backend/index.ts';
import type { LinksOption } from '../compile.ts';
import { withCreditPort } from '../credit.ts';
import {
  type BatchEvent,
  type BatchingOptions,
  engineDefaults,
  type QueueOptions,
} from '../engine.ts';
import { errorCode, errorMessage, RuntimeError } from '../errors.ts';
import { type Answer, checkRequest, type Request } from '../messages.ts';
import { checkedIR } from '../plan.ts';
import type { FromWorker, ToWorker, WorkerInit, WorkerLinks } from './protocol.ts';

export interface WorkerPoolOptions {
  /** Worker threads; on this machine 2 (one per core). */
  workers: number;
  mode?: Mode;
  /** Default `{ seed: 0 }`; a LinkSet is serialized and copied into every worker. */
  links?: LinksOption;
  seed?: number;
  documents?: readonly SearchDocument[];
  handoffTokens?: number;
  /** Micro-batching inside each worker. */
  batching?: Partial<BatchingOptions>;
  /** Most requests one worker holds at once. Default 32. */
  capacityPerWorker?: number;
  /** Each worker's backend; default the usual choice (tensorflow, wasm, cpu). */
  backend?: BackendName | 'auto';
}

/** A batch a worker ran, and which worker. */
export type WorkerBatchEvent = BatchEvent & { worker: number };

export interface PoolCompileOptions {
  /** The pool-wide queue (default capacity: workers × capacityPerWorker, policy 'reject'). */
  queue?: Partial<QueueOptions>;
  onBatch?: (event: WorkerBatchEvent) => void;
}

export interface WorkerPool {
  readonly size: number;
  /** The backend each worker runs on. */
  readonly backends: readonly string[];
  /** An operator from requests to answers running on this pool (many may share it). */
  compile(options?: PoolCompileOptions): OperatorFunction<Request, Answer>;
  /** Lets the workers finish what they hold, then stops them. */
  close(): Promise<void>;
}

interface Slot {
  index: number;
  worker: Worker;
  pending: Set<string>;
  alive: boolean;
}

const ENTRY = new URL('./worker.ts', import.meta.url).href;
const BOOTSTRAP = new URL('./bootstrap.mjs', import.meta.url);

function workerLinks(links: LinksOption | undefined): WorkerLinks {
  if (links instanceof Map) {
    return {
      serialized: [...links].map(([id, link]) => ({ id, ...serializeLink(link) })),
    };
  }
  if (links !== undefined && 'dir' in links) return { dir: links.dir };
  return { seed: (links as { seed?: number } | undefined)?.seed ?? 0 };
}

/**
 * Starts `workers` threads, each loading the topology's agents and links; resolves once all are
 * ready (rejects, stopping them, if one fails).
 * @example
 * const pool = await startWorkerPool(mixture(config), { workers: 2, links: { seed: 1 } });
 * const answers = await lastValueFrom(from(requests).pipe(pool.compile(), toArray()));
 * await pool.close();
 */
export async function startWorkerPool(
  topology: Topology | TopologyIR,
  options: WorkerPoolOptions,
): Promise<WorkerPool> {
  const ir = checkedIR(topology);
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `workers must be an integer >= 1, got ${options.workers}`,
    );
  }
  const capacityPerWorker = options.capacityPerWorker ?? 32;
  const { batching } = engineDefaults({ batching: options.batching });
  const links = workerLinks(options.links);
  const handlers = new Map<string, (answer: Answer) => void>();
  const batchListeners = new Set<(event: WorkerBatchEvent) => void>();
  let closing = false;

  const slots: Slot[] = [];
  const readies: Promise<string>[] = [];
  for (let index = 0; index < options.workers; index++) {
    const init: WorkerInit = {
      entry: ENTRY,
      index,
      ir,
      mode: options.mode ?? 'latent',
      links,
      seed: options.seed,
      documents: options.documents,
      handoffTokens: options.handoffTokens,
      batching,
      capacity: capacityPerWorker,
      backend: options.backend,
      reportBatches: true,
    };
    const worker = new Worker(BOOTSTRAP, { workerData: init });
    const slot: Slot = { index, worker, pending: new Set(), alive: true };
    slots.push(slot);
    /** A dead worker's requests are answered with WORKER_FAILED. */
    const lose = (why: string) => {
      if (!slot.alive) return;
      slot.alive = false;
      for (const id of [...slot.pending]) {
        const handler = handlers.get(id);
        handlers.delete(id);
        handler?.({
          requestId: id,
          topologyId: ir.name,
          topologyVersion: 0,
          text: '',
          rounds: 0,
          usage: [],
          error: { code: 'WORKER_FAILED', message: `worker ${index}: ${why}` },
        });
      }
      slot.pending.clear();
    };
    readies.push(
      new Promise<string>((resolve, reject) => {
        worker.on('message', (message: FromWorker) => {
          switch (message.type) {
            case 'ready':
              resolve(message.backend);
              break;
            case 'answer': {
              const id = message.answer.requestId;
              slot.pending.delete(id);
              const handler = handlers.get(id);
              handlers.delete(id);
              handler?.(message.answer);
              break;
            }
            case 'batch':
              for (const listener of batchListeners) listener({ ...message.event, worker: index });
              break;
            case 'failed':
              reject(
                new RuntimeError(
                  'WORKER_FAILED',
                  `worker ${index}: ${message.code}: ${message.message}`,
                ),
              );
              lose(`${message.code}: ${message.message}`);
              break;
            case 'closed':
              break;
          }
        });
        worker.on('error', (error) => {
          reject(
            new RuntimeError('WORKER_FAILED', `worker ${index}: ${errorMessage(error)}`, {
              cause: error,
            }),
          );
          lose(errorMessage(error));
        });
        worker.on('exit', (code) => {
          reject(
            new RuntimeError(
              'WORKER_FAILED',
              `worker ${index} exited with code ${code} before it was ready`,
            ),
          );
          if (!closing) lose(`exited with code ${code}`);
        });
      }),
    );
  }
  let backends: string[];
  try {
    backends = await Promise.all(readies);
  } catch (error) {
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw error;
  }

  const send = (slot: Slot, message: ToWorker) => slot.worker.postMessage(message);

  const compilePool = (poolOptions: PoolCompileOptions = {}): OperatorFunction<Request, Answer> => {
    const { queue } = engineDefaults({
      queue: { capacity: options.workers * capacityPerWorker, ...poolOptions.queue },
    });
    if (queue.capacity > options.workers * capacityPerWorker) {
      throw new RuntimeError(
        'INVALID_OPTIONS',
        `queue.capacity ${queue.capacity} exceeds what the workers hold (${options.workers} × ${capacityPerWorker})`,
      );
    }
    return (source) =>
      new Observable<Answer>((subscriber) => {
        const live = new Map<string, number>(); // requestId -> admission order
        let admitted = 0;
        let sourceDone = false;
        let grant: ((credits: number) => void) | undefined;
        const listener = poolOptions.onBatch;
        if (listener !== undefined) batchListeners.add(listener);
        const completeIfDone = () => {
          if (sourceDone && live.size === 0) subscriber.complete();
        };
        const refuse = (request: unknown, code: string, message: string) => {
          const r = (request ?? {}) as Partial<Request>;
          subscriber.next({
            requestId: typeof r.requestId === 'string' ? r.requestId : '',
            topologyId: typeof r.topologyId === 'string' ? r.topologyId : ir.name,
            topologyVersion: typeof r.topologyVersion === 'number' ? r.topologyVersion : 0,
            text: '',
            rounds: 0,
            usage: [],
            error: { code, message },
          });
          grant?.(1);
        };
        const finish = (id: string, answer: Answer) => {
          if (!live.delete(id)) return;
          subscriber.next(answer);
          grant?.(1);
          completeIfDone();
        };
        const admit = (value: Request) => {
          let request: Request;
          try {
            request = checkRequest(value);
          } catch (error) {
            refuse(value, errorCode(error), errorMessage(error));
            return;
          }
          const id = request.requestId;
          if (live.has(id) || handlers.has(id)) {
            refuse(
              request,
              'DUPLICATE_REQUEST',
              `request ${JSON.stringify(id)} is already in flight`,
            );
            return;
          }
          if (live.size >= queue.capacity) {
            const full = `queue full: ${queue.capacity} requests in flight (policy '${queue.policy}')`;
            if (queue.policy === 'error') {
              subscriber.error(new RuntimeError('QUEUE_FULL', `${full}; request ${id} arrived`));
              return;
            }
            if (queue.policy !== 'drop-oldest') {
              refuse(request, 'QUEUE_FULL', full);
              return;
            }
            // The oldest is answered now; its worker finishes it unseen (its answer is dropped).
            const [oldest] = [...live].reduce((a, b) => (b[1] < a[1] ? b : a));
            handlers.delete(oldest);
            live.delete(oldest);
            subscriber.next({
              requestId: oldest,
              topologyId: ir.name,
              topologyVersion: 0,
              text: '',
              rounds: 0,
              usage: [],
              error: {
                code: 'DROPPED',
                message: `dropped to make room for request ${id}: ${full}`,
              },
            });
          }
          const candidates = slots.filter((s) => s.alive && s.pending.size < capacityPerWorker);
          if (candidates.length === 0) {
            refuse(request, 'WORKER_FAILED', 'no worker can take the request');
            return;
          }
          const slot = candidates.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
          live.set(id, ++admitted);
          slot.pending.add(id);
          handlers.set(id, (answer) => finish(id, answer));
          send(slot, { type: 'request', request });
        };
        const subscribeSource = () =>
          source.subscribe({
            next: admit,
            error: (error) => subscriber.error(error),
            complete: () => {
              sourceDone = true;
              completeIfDone();
            },
          });
        const subscription =
          queue.policy === 'block'
            ? withCreditPort({ connect: (g) => (grant = g) }, subscribeSource)
            : subscribeSource();
        grant?.(queue.capacity);
        return () => {
          subscription.unsubscribe();
          if (listener !== undefined) batchListeners.delete(listener);
          // Requests still in flight finish in their workers; nobody reads their answers.
          for (const id of live.keys()) handlers.delete(id);
          live.clear();
        };
      });
  };

  return {
    size: options.workers,
    backends,
    compile: compilePool,
    async close() {
      closing = true;
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve) => {
              if (!slot.alive) {
                void slot.worker.terminate().then(() => resolve());
                return;
              }
              slot.worker.once('exit', () => resolve());
              send(slot, { type: 'close' });
              // The worker exits once its engine completes; make sure it does.
              setTimeout(() => void slot.worker.terminate(), 30_000).unref();
            }),
        ),
      );
    },
  };
}
