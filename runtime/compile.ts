/**
 * `compile`: a topology becomes an RxJS operator from requests to answers. It checks the topology
 * at once (`validate`), resolves agents and links (loading presets or folders when not given),
 * builds the plan and runs it on the stream engine: recursive rounds as a feedback loop,
 * micro-batched stage calls, a bounded queue. What compile loaded or created (models, links), the
 * subscription owns and frees when it ends; what the caller passed in stays the caller's.
 */
import { Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { Mode } from '../dsl/graph.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import type { Topology } from '../dsl/topology.ts';
import type { Agent } from '../models/types.ts';
import type { SearchDocument } from '../operators/tools/search.ts';
import type { Tool } from '../operators/tools/tool.ts';
import { type AgentRegistry, agentRegistry, resolveAgents } from './agents.ts';
import { type EngineOptions, engineDefaults, runPlan } from './engine.ts';
import { RuntimeError } from './errors.ts';
import { createLinks, disposeLinks, type LinkSet, loadLinks } from './links.ts';
import type { Answer, Request } from './messages.ts';
import { buildPlan, checkedIR, type TopologyPlan } from './plan.ts';
import { startWorkerPool, type WorkerPool } from './workers/pool.ts';

/** Where the links come from: given, created from a seed (Kaiming or ridge), or loaded from a folder. */
export type LinksOption = LinkSet | { seed?: number } | { dir: string };

export interface CompileOptions extends EngineOptions {
  /** `latent` (RecursiveMAS, default) or `text` (the Recursive-TextMAS baseline). */
  mode?: Mode;
  /** Agents already loaded, by IR name; the others are loaded through `registry`. */
  agents?: Readonly<Record<string, Agent>>;
  /** Loads presets and folders; default a registry owned by the subscription. */
  registry?: AgentRegistry;
  /** Default `{ seed: 0 }`. */
  links?: LinksOption;
  tools?: Readonly<Record<string, Tool>>;
  documents?: readonly SearchDocument[];
  handoffTokens?: number;
  /** Seed of sampling when `decode.temperature` > 0, and of presets' random weights (default 1). */
  seed?: number;
  /**
   * Run in this many worker threads (each its own backend and copy of the models; requests are
   * spread over them). 0 or absent: in this thread. Workers load models from the IR's references
   * and take links as a LinkSet, seed or folder; `agents`, `registry`, `tools`, `stop` and
   * `scheduler` cannot cross threads and are refused.
   */
  workers?: number;
}

/** A plan ready to run, and how to free what was loaded or created for it. */
export interface PreparedPlan {
  plan: TopologyPlan;
  release: () => void;
}

function isLinkSet(links: LinksOption | undefined): links is LinkSet {
  return links instanceof Map;
}

/**
 * Resolves agents and links and builds the plan; `release` frees what this call loaded or created
 * (not what `options` passed in).
 * @example const { plan, release } = await preparePlan(ir, 'latent', { links: { seed: 1 } });
 */
export async function preparePlan(
  ir: TopologyIR,
  mode: Mode,
  options: CompileOptions,
): Promise<PreparedPlan> {
  const ownedRegistry =
    options.registry === undefined ? agentRegistry({ seed: options.seed }) : undefined;
  let ownedLinks: LinkSet | undefined;
  const release = () => {
    if (ownedLinks !== undefined) disposeLinks(ownedLinks);
    ownedRegistry?.dispose();
  };
  try {
    const agents = await resolveAgents(ir, options.registry ?? ownedRegistry, options.agents);
    let links: LinkSet | undefined;
    if (mode === 'latent') {
      const given = options.links;
      if (isLinkSet(given)) links = given;
      else if (given !== undefined && 'dir' in given)
        links = ownedLinks = await loadLinks(ir, given.dir);
      else links = ownedLinks = createLinks(ir, { seed: given?.seed ?? 0, agents });
    }
    const plan = buildPlan(ir, { ...options, agents, links, mode });
    return { plan, release };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * Compiles a topology into an operator from requests to answers (one answer per request, in the
 * order they finish; see `runPlan` for batching, termination and the queue).
 * @example
 * const t = sequential({ planner: { model: 'tiny-planner-96', hiddenSize: 96 }, ... });
 * from([{ requestId: 'q1', input: 'What is 12 * 7?' }])
 *   .pipe(compile(t, { mode: 'latent', batching: { maxBatchSize: 4, lingerMs: 2 } }))
 *   .subscribe((answer) => console.log(answer.text));
 */
export function compile(
  topology: Topology | TopologyIR,
  options: CompileOptions = {},
): OperatorFunction<Request, Answer> {
  const ir = checkedIR(topology);
  const mode = options.mode ?? 'latent';
  engineDefaults(options); // fail now on bad options, not at subscription
  if (options.workers !== undefined && options.workers > 0)
    return compileInWorkers(ir, mode, options);
  return (source) =>
    new Observable<Answer>((subscriber) => {
      let closed = false;
      let inner: Subscription | undefined;
      let release: (() => void) | undefined;
      preparePlan(ir, mode, options).then(
        (prepared) => {
          if (closed) {
            prepared.release();
            return;
          }
          release = prepared.release;
          inner = source.pipe(runPlan(prepared.plan, options)).subscribe(subscriber);
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        closed = true;
        inner?.unsubscribe();
        release?.();
      };
    });
}

/** `compile` with `workers`: a pool per subscription, closed when the subscription ends. */
function compileInWorkers(
  ir: TopologyIR,
  mode: Mode,
  options: CompileOptions,
): OperatorFunction<Request, Answer> {
  const local = (['agents', 'registry', 'tools', 'stop', 'scheduler'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (local.length > 0) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `with workers, these options cannot cross threads: ${local.join(', ')}`,
    );
  }
  return (source) =>
    new Observable<Answer>((subscriber) => {
      let closed = false;
      let inner: Subscription | undefined;
      let pool: WorkerPool | undefined;
      const workers = options.workers!;
      // Room in the workers for the whole queue, spread evenly.
      const capacityPerWorker = Math.ceil((options.queue?.capacity ?? 64) / workers);
      startWorkerPool(ir, { ...options, workers, mode, capacityPerWorker }).then(
        (started) => {
          pool = started;
          if (closed) {
            void pool.close();
            return;
          }
          inner = source
            .pipe(pool.compile({ queue: options.queue, onBatch: options.onBatch }))
            .subscribe(subscriber);
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        closed = true;
        inner?.unsubscribe();
        void pool?.close();
      };
    });
}
