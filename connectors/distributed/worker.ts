/**
 * `runWorker`: one agent of a topology as a Kafka worker. It reads the agent's inbox (and the
 * requests topic, when the agent starts round 1), waits until a request's round has all its
 * inputs (the join of a fan-in), runs the agent's stage of the runtime's plan once per batch of
 * ready requests, and sends its latents to the next agents, or the answer when it decodes the last
 * round. Offsets are committed only once a message's outputs are written (at-least-once), or
 * together with them in one Kafka transaction (exactly-once). The Kafka side lives in sessions
 * (workerSession.ts): when the client gives up on the broker, a new session starts over from the
 * committed offsets, with the model still loaded.
 */
import { hostname } from 'node:os';
import type { ConsumerConfig, Kafka, KafkaConfig, ProducerConfig } from 'kafkajs';
import type { Topology, TopologyIR } from '../../dsl/index.ts';
import { checkedIR } from '../../runtime/index.ts';
import { ConnectorEvents, type DeliveryGuarantee, emptyMetrics } from '../kafka/index.ts';
import { type TensorDType, topologyCatalog } from '../wire/index.ts';
import { type AgentPlanOptions, checkRunnable, prepareAgentPlan } from './agentStage.ts';
import { DistributedError } from './distributedError.ts';
import type { InboundContext } from './hopRecords.ts';
import { distributedKafka } from './kafkaClient.ts';
import { topologyRoutes } from './routes.ts';
import { type DistributedTopics, defaultGroupId, distributedTopics } from './topics.ts';
import { type SessionContext, startSession, type WorkerSession } from './workerSession.ts';

export interface RunWorkerOptions extends AgentPlanOptions {
  /** The topology: the same IR for every worker and submitter. */
  ir: Topology | TopologyIR;
  /** The agent this worker runs. */
  agent: string;
  /** Bootstrap brokers (`['127.0.0.1:9092']`, or a comma-separated string). */
  brokers?: readonly string[] | string;
  /** A kafkajs client to use instead of one made from `brokers`. */
  kafka?: Kafka;
  /** Default `<topicPrefix>.<topology>.<agent>`. Workers of one agent share it to share the load. */
  groupId?: string;
  /** Default `rmas` (see topics.ts). */
  topicPrefix?: string;
  /** The topology version requests must name. Default 1. */
  topologyVersion?: number;
  /** Default at-least-once. */
  guarantee?: DeliveryGuarantee;
  /**
   * Exactly-once: this worker's slot, stable across restarts and unique among the agent's
   * workers (a restarted worker with the same slot fences its dead predecessor at once). Default
   * the host name. The transactional id is `<groupId>.<instance>`.
   */
  instance?: string;
  /** Exactly-once: the transactional id itself (overrides `instance`). */
  transactionalId?: string;
  /** Most requests in one stage pass. Default 64. */
  maxBatchSize?: number;
  /** How long a ready request may wait for others to fill a batch, in ms. Default 2. */
  lingerMs?: number;
  /**
   * Most (request, round) groups waiting for fan-in inputs. Past it, the group waiting longest is
   * written back to the tail of its topic (and acknowledged), so the worker reads on to its
   * partners instead of stalling. Default 10,000.
   */
  joinCapacity?: number;
  /** A group still incomplete after this long goes to the dead letters (`join_timeout`). Default 5 min. */
  joinTimeoutMs?: number;
  /** Element type of the latents sent. Default F32 (lossless); F16/BF16 halve the bytes. */
  latentDType?: TensorDType;
  /** Records larger than this are dead letters. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Pause fetching above this many unacknowledged messages. Default joinCapacity + 4 batches. */
  highWaterMark?: number;
  /** Longest wait for in-flight work at a rebalance or stop, in ms. Default 3 s. */
  drainTimeoutMs?: number;
  /** A new group starts at the beginning of its topics. Default true. */
  fromBeginning?: boolean;
  /** Extra kafkajs client settings (when the worker makes the client). */
  kafkaConfig?: Partial<KafkaConfig>;
  /** Extra kafkajs consumer settings. Defaults: sessionTimeout 10 s, heartbeatInterval 1 s. */
  consumerConfig?: Partial<ConsumerConfig>;
  /** Extra kafkajs producer settings. */
  producerConfig?: Partial<ProducerConfig>;
  /** Called after every stage pass. */
  onBatch?: (event: WorkerBatchEvent) => void;
}

/** One stage pass. */
export interface WorkerBatchEvent {
  agent: string;
  stage: 'latent' | 'decode';
  requestIds: string[];
  rounds: number[];
  durationMs: number;
}

/** Counters of a worker (the source's own are in `source`). */
export interface WorkerMetrics {
  /** Stage passes and the requests they ran. */
  batches: number;
  groups: number;
  latentsSent: number;
  triggersSent: number;
  answers: number;
  /** Answers with an error (the stage failed on the request, or its deadline passed). */
  errorAnswers: number;
  /** Inputs read again that were already handled (at-least-once redeliveries). */
  duplicates: number;
  /** Waiting groups written back to the tail of their topic (join over capacity). */
  parked: number;
  /** Groups that timed out in the join (their inputs went to the dead letters). */
  joinTimeouts: number;
  /** Groups waiting in the join now. */
  joinWaiting: number;
  /** Bad records on the requests topic that another agent's workers dead-letter. */
  badRequestsLeftToOthers: number;
  /** Kafka sessions started again after the client gave up (e.g. the broker was away). */
  sessionRestarts: number;
  /** The connectors' counters: received, acknowledged, dead letters, commits, transactions... */
  source: ReturnType<typeof emptyMetrics>;
}

export interface DistributedWorker {
  readonly agent: string;
  readonly groupId: string;
  readonly topics: DistributedTopics;
  readonly metrics: WorkerMetrics;
  readonly events: ConnectorEvents;
  /** Resolves once the consumer has joined its group the first time. */
  readonly ready: Promise<void>;
  /** Resolves when the worker has stopped; rejects on a fatal error (the worker is then stopped). */
  readonly done: Promise<void>;
  /** Stops fetching, finishes and commits in-flight work, disconnects, frees the model. */
  stop(): Promise<void>;
}

/**
 * Starts a worker for one agent; resolves once it is connected and consuming.
 * Call `initBackend()` before (as for `compile`).
 *
 * @example
 * await initBackend();
 * const worker = await runWorker({ ir, agent: 'critic', brokers: ['127.0.0.1:9092'] });
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.done;
 */
export async function runWorker(options: RunWorkerOptions): Promise<DistributedWorker> {
  const ir = checkedIR(options.ir);
  const me = options.agent;
  checkRunnable(ir, me);
  const prefix = options.topicPrefix ?? 'rmas';
  const topics = distributedTopics(ir, prefix);
  const groupId = options.groupId ?? defaultGroupId(ir, me, prefix);
  const maxBatchSize = positiveInteger(options.maxBatchSize ?? 64, 'maxBatchSize');
  const joinCapacity = positiveInteger(options.joinCapacity ?? 10_000, 'joinCapacity');
  const served = { id: ir.name, version: options.topologyVersion ?? 1 };
  const kafka =
    options.kafka ?? distributedKafka(options.brokers, `rmas-worker-${me}`, options.kafkaConfig);

  const prepared = await prepareAgentPlan(ir, me, options);
  const { plan } = prepared;
  const routes = topologyRoutes(ir, plan);
  const route = routes.get(me)!;
  const shapes = new Map(ir.agents.map((a) => [a.name, [a.latentSteps, a.hiddenSize] as const]));
  const inbound: InboundContext = {
    agent: me,
    route,
    requestsTopic: topics.requests,
    served,
    catalog: topologyCatalog([
      {
        ...served,
        agents: Object.fromEntries(ir.agents.map((a) => [a.name, { hiddenSize: a.hiddenSize }])),
      },
    ]),
    shapes,
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
  };
  const metrics: WorkerMetrics = {
    batches: 0,
    groups: 0,
    latentsSent: 0,
    triggersSent: 0,
    answers: 0,
    errorAnswers: 0,
    duplicates: 0,
    parked: 0,
    joinTimeouts: 0,
    joinWaiting: 0,
    badRequestsLeftToOthers: 0,
    sessionRestarts: 0,
    source: emptyMetrics(),
  };
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const context: SessionContext = {
    options,
    me,
    kafka,
    groupId,
    transactionalId: options.transactionalId ?? `${groupId}.${options.instance ?? hostname()}`,
    guarantee: options.guarantee ?? 'at-least-once',
    topics,
    served,
    plan,
    route,
    reportsRequests: plan.order.find((name) => routes.get(name)!.readsRequests) === me,
    stages: {
      latent: plan.roundStages.find((s) => s.agent === me)!,
      decode: plan.decoder === me ? plan.finalStages.at(-1)! : undefined,
    },
    shapes,
    inbound,
    maxBatchSize,
    lingerMs: options.lingerMs ?? 2,
    joinCapacity,
    joinTimeoutMs: options.joinTimeoutMs ?? 300_000,
    metrics,
    events: new ConnectorEvents(),
    onGroupJoin: () => markReady(),
  };

  let session: WorkerSession;
  try {
    session = await startSession(context);
  } catch (error) {
    prepared.release();
    throw error;
  }
  let stopping = false;
  let wake: (() => void) | undefined;
  /** Runs sessions one after another while they end `lost`; settles when one stops or fails. */
  const supervise = async (): Promise<void> => {
    for (;;) {
      const end = await session.ended;
      if (end.kind === 'stopped') return;
      if (end.kind === 'failed' || stopping) throw end.error;
      metrics.sessionRestarts++;
      // Back off a little before reconnecting (the broker may still be away).
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1_000);
      });
      if (stopping) return;
      try {
        session = await startSession(context);
        if (stopping) await session.stop();
      } catch {
        // Not reachable yet: try again after the next back-off.
        session = {
          ended: Promise.resolve({ kind: 'lost', error: undefined }),
          stop: async () => ({ kind: 'stopped' }),
        };
      }
    }
  };
  const done = supervise().finally(() => prepared.release());
  done.catch(() => undefined); // observed through `done`; never an unhandled rejection here

  return {
    agent: me,
    groupId,
    topics,
    metrics,
    events: context.events,
    ready,
    done,
    async stop() {
      stopping = true;
      wake?.();
      await session.stop();
      await done.catch(() => undefined);
    },
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new DistributedError('invalid_options', `${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}
