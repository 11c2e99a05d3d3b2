/**
 * `runWorker`: one agent of a topology as a Kafka worker. It reads the agent's inbox (and the
 * requests topic, when the agent starts round 1), waits until a request's round has all its
 * inputs (the join of a fan-in), runs the agent's stage of the runtime's plan once per batch of
 * ready requests, and sends its latents to the next agents, or the answer when it decodes the last
 * round. Offsets are committed only once a message's outputs are written (at-least-once), or
 * together with them in one Kafka transaction (exactly-once).
 */
import { hostname } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import {
  type ConsumerConfig,
  type Kafka,
  type KafkaConfig,
  Partitioners,
  type ProducerConfig,
} from 'kafkajs';
import type { Subscription } from 'rxjs';
import type { Topology, TopologyIR } from '../../dsl/index.ts';
import {
  checkedIR,
  errorCode,
  type Request,
  type RequestState,
  RuntimeError,
} from '../../runtime/index.ts';
import {
  answerMessage,
  ConnectorEvents,
  type DeliveryGuarantee,
  deadLetterMessage,
  emptyMetrics,
  errorRecordFor,
  KafkaConnectorError,
  type KafkaLikeOutgoingMessage,
  type KafkaLikeProducer,
  type KafkaSource,
  kafkaSource,
  type OutputRecord,
  type SourceMessage,
  TransactionalOutbox,
} from '../kafka/index.ts';
import {
  type TensorDType,
  topologyCatalog,
  type WireAnswer,
  WireError,
  type WireRequest,
} from '../wire/index.ts';
import {
  type AgentPlanOptions,
  checkRunnable,
  prepareAgentPlan,
  runIsolated,
} from './agentStage.ts';
import { DistributedError } from './distributedError.ts';
import { GroupAcks } from './groupAcks.ts';
import {
  type Inbound,
  type InboundContext,
  latentRecord,
  readInbound,
  triggerRecord,
} from './hopRecords.ts';
import { distributedKafka } from './kafkaClient.ts';
import { type JoinGroup, LatentJoin } from './latentJoin.ts';
import { topologyRoutes } from './routes.ts';
import { sendWithRetry } from './sendRecords.ts';
import { type DistributedTopics, defaultGroupId, distributedTopics } from './topics.ts';
import { answerUsageOf, mergeUsageRows, stageUsageRows, type UsageRow } from './usageRows.ts';

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

/** Outputs waiting for the send in flight, and the inputs they acknowledge. */
interface Outgoing {
  records: OutputRecord[];
  /** The inputs acknowledged, one entry per group. */
  groups: (readonly SourceMessage[])[];
  after: (() => void)[];
}

/** A waiting input: the record and what it said. */
interface Item {
  message: SourceMessage;
  inbound: Inbound;
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
  const guarantee = options.guarantee ?? 'at-least-once';
  const maxBatchSize = positiveInteger(options.maxBatchSize ?? 64, 'maxBatchSize');
  const joinCapacity = positiveInteger(options.joinCapacity ?? 10_000, 'joinCapacity');
  const joinTimeoutMs = options.joinTimeoutMs ?? 300_000;
  const lingerMs = options.lingerMs ?? 2;
  const served = { id: ir.name, version: options.topologyVersion ?? 1 };

  const prepared = await prepareAgentPlan(ir, me, options);
  const { plan } = prepared;
  const routes = topologyRoutes(ir, plan);
  const route = routes.get(me)!;
  const reportsRequests = plan.order.find((name) => routes.get(name)!.readsRequests) === me;
  const stages = {
    latent: plan.roundStages.find((s) => s.agent === me)!,
    decode: plan.decoder === me ? plan.finalStages.at(-1)! : undefined,
  };
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

  const kafka =
    options.kafka ?? distributedKafka(options.brokers, `rmas-worker-${me}`, options.kafkaConfig);
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 500,
    ...options.consumerConfig,
  });
  const transactionalId = options.transactionalId ?? `${groupId}.${options.instance ?? hostname()}`;
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    ...(guarantee === 'exactly-once' ? { transactionalId, transactionTimeout: 30_000 } : {}),
    ...options.producerConfig,
  });
  try {
    await producer.connect();
    await consumer.connect();
  } catch (error) {
    prepared.release();
    await Promise.allSettled([producer.disconnect(), consumer.disconnect()]);
    throw error;
  }

  const events = new ConnectorEvents();
  const sourceMetrics = emptyMetrics();
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
    source: sourceMetrics,
  };
  const outbox =
    guarantee === 'exactly-once'
      ? new TransactionalOutbox({
          producer: producer as KafkaLikeProducer,
          offsetsTarget: { consumerGroupId: groupId },
          events,
          metrics: sourceMetrics,
        })
      : undefined;
  const source: KafkaSource = kafkaSource({
    consumer,
    topics: route.readsRequests ? [topics.requests, topics.inboxes[me]!] : [topics.inboxes[me]!],
    fromBeginning: options.fromBeginning ?? true,
    highWaterMark: options.highWaterMark ?? joinCapacity + 4 * maxBatchSize,
    drainTimeoutMs: options.drainTimeoutMs ?? 3_000,
    ...(outbox ? { committer: outbox } : {}),
    events,
    metrics: sourceMetrics,
  });

  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => markReady());
  // kafkajs restarts a consumer after retriable failures (a broker restart); not after the others.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) {
      fatal(
        new KafkaConnectorError(
          'consumer_crashed',
          `consumer stopped: ${payload.error.message}`,
          false,
          { cause: payload.error },
        ),
      );
    }
  });

  const join = new LatentJoin<Item>({
    isLive: (item) => item.message.isCurrent(),
    // Exactly-once re-reads only what was never committed: all of it must run again.
    rememberDone: guarantee === 'at-least-once' ? 100_000 : 0,
  });
  /** Groups with all their inputs, by the stage they need. */
  const queues: Record<'latent' | 'decode', JoinGroup<Item>[]> = { latent: [], decode: [] };
  const queued = () => queues.latent.length + queues.decode.length;
  let failed = false;
  const fatal = (error: unknown) => void close(error);
  let pumping = false;
  let pumpTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  // At-least-once: one send in flight; what is emitted meanwhile goes out together after it (as
  // the outbox's transactions do), so a busy worker writes few, large requests.
  let outgoing: Outgoing = { records: [], groups: [], after: [] };
  let sending: Promise<void> | undefined;
  const flush = () => {
    if (sending !== undefined || outgoing.groups.length === 0 || failed) return;
    const batch = outgoing;
    outgoing = { records: [], groups: [], after: [] };
    sending = sendWithRetry(producer, batch.records)
      .then(() => {
        for (const group of batch.groups) acks.done(group);
        for (const after of batch.after) after();
      }, fatal)
      .finally(() => {
        sending = undefined;
        flush();
      });
  };

  /**
   * Writes `records`, the outputs of `messages` (the inputs of one group, or one input), then
   * acknowledges the messages as one unit (see groupAcks.ts).
   */
  const emit = (
    records: OutputRecord[],
    messages: readonly SourceMessage[],
    after?: () => void,
  ) => {
    if (outbox) {
      // The outputs ride on the input read last: the transaction that commits past it carries
      // them (and, by the group rule, past the others too).
      const last = messages.reduce((a, b) => (BigInt(b.offset) > BigInt(a.offset) ? b : a));
      for (const message of messages) outbox.add(message, message === last ? records : []);
      acks.done(messages);
      after?.();
      return;
    }
    outgoing.records.push(...records);
    outgoing.groups.push(messages);
    if (after) outgoing.after.push(after);
    flush();
  };

  const deadLetter = (message: SourceMessage, error: unknown, code: string, requestId = '') => {
    const messageType =
      message.topic === topics.requests ? 'rmas.v1.Request' : 'rmas.v1.LatentState';
    const record = errorRecordFor(error, message, messageType, code, requestId);
    sourceMetrics.deadLetters++;
    sourceMetrics.deadLettersByCode[record.code] =
      (sourceMetrics.deadLettersByCode[record.code] ?? 0) + 1;
    events.emit('dead-letter', () => ({
      code: record.code,
      path: record.path,
      message: record.message,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
    }));
    emit(
      [{ topic: topics.deadLetters, message: deadLetterMessage(record, message.key) }],
      [message],
    );
  };

  const acks = new GroupAcks();
  const slotKey = (item: Inbound) =>
    item.kind === 'request' ? 'request' : `${item.slot.kind}:${item.slot.source}`;

  const intake = (messages: readonly SourceMessage[]) => {
    for (const message of messages) {
      acks.received(message);
      let read: Inbound;
      try {
        read = readInbound(message, inbound);
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
        // Every agent that starts round 1 reads the requests topic; one of them reports.
        if (message.topic === topics.requests && !reportsRequests) {
          metrics.badRequestsLeftToOthers++;
          acks.done([message]);
        } else deadLetter(message, error, error.code);
        continue;
      }
      const expected =
        read.kind === 'request'
          ? []
          : route.inputsOf(read.round).map((s) => `${s.kind}:${s.source}`);
      const outcome = join.add(read.request.requestId, read.round, slotKey(read), expected, {
        message,
        inbound: read,
      });
      if (outcome.status === 'complete') queues[route.stageOf(read.round)].push(outcome.group);
      else if (outcome.status === 'duplicate') {
        metrics.duplicates++;
        acks.done([message]);
      }
    }
    while (join.size > joinCapacity) park(join.evictOldest()!);
    metrics.joinWaiting = join.size;
    schedulePump();
  };

  /** Writes a waiting group's inputs back to the tail of their topic, so reading goes on. */
  const park = (group: JoinGroup<Item>) => {
    metrics.parked++;
    // Each copy stands alone from now on: its partners may come before or after it.
    for (const { message } of group.items) {
      if (message.isCurrent())
        emit([{ topic: message.topic, message: copyOf(message) }], [message]);
    }
  };

  const schedulePump = () => {
    if (pumping || pumpTimer !== undefined || queued() === 0 || failed) return;
    const delay = queued() >= maxBatchSize ? 0 : lingerMs;
    pumpTimer = setTimeout(() => {
      pumpTimer = undefined;
      void pump();
    }, delay);
  };

  const pump = async () => {
    pumping = true;
    try {
      while (queued() > 0 && !failed) {
        // The longer queue first; answers first on a tie.
        const kind = queues.decode.length >= queues.latent.length ? 'decode' : 'latent';
        // A stale delivery (rebalance) will be read again: drop this copy.
        const batch = queues[kind]
          .splice(0, maxBatchSize)
          .filter((group) => group.items.every((item) => item.message.isCurrent()));
        if (batch.length > 0) await runBatch(kind, batch);
        // Let fetches, heartbeats and sends progress between passes.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      fatal(error);
    } finally {
      pumping = false;
      schedulePump();
    }
  };

  const runBatch = async (kind: 'latent' | 'decode', batch: JoinGroup<Item>[]) => {
    const began = performance.now();
    const stage = kind === 'decode' ? stages.decode! : stages.latent;
    const now = Date.now();
    const runnable: { group: JoinGroup<Item>; state: RequestState; usage: UsageRow[] }[] = [];
    for (const group of batch) {
      const request = group.items[0]!.inbound.request;
      const usage = mergeUsageRows(group.items.map((item) => item.inbound.usage));
      const deadline = request.deadlineUnixMs;
      if (deadline > 0 && now > deadline) {
        const error = new RuntimeError(
          'DEADLINE_EXCEEDED',
          `request ${request.requestId}: deadline ${new Date(deadline).toISOString()} passed in round ${group.round}`,
        );
        finishWithError(group, usage, error);
        continue;
      }
      runnable.push({ group, state: stateOf(group, request), usage });
    }
    if (runnable.length === 0) return;
    const outcomes = await runIsolated(
      stage,
      runnable.map((r) => r.state),
    );
    try {
      runnable.forEach(({ group, usage }, i) => {
        const outcome = outcomes[i]!;
        if (!outcome.ok) {
          finishWithError(group, usage, outcome.error, `stage ${stage.id} (round ${group.round})`);
          return;
        }
        const rows = mergeUsageRows([usage, stageUsageRows(outcome.state, me, group.round)]);
        emit(outputsOf(group, outcome.state, rows), messagesOf(group), () =>
          join.markDone(group.requestId, group.round),
        );
      });
    } finally {
      const tensors = new Set<tf.Tensor>();
      for (const { state } of runnable) for (const t of plan.tensors(state)) tensors.add(t);
      for (const outcome of outcomes) {
        if (outcome.ok) for (const t of plan.tensors(outcome.state)) tensors.add(t);
      }
      for (const t of tensors) if (!t.isDisposed) t.dispose();
    }
    metrics.batches++;
    metrics.groups += runnable.length;
    options.onBatch?.({
      agent: me,
      stage: kind,
      requestIds: runnable.map((r) => r.group.requestId),
      rounds: runnable.map((r) => r.group.round),
      durationMs: performance.now() - began,
    });
  };

  const stateOf = (group: JoinGroup<Item>, request: WireRequest): RequestState => {
    const thoughts: Record<string, tf.Tensor2D> = {};
    const fedBack: Record<string, tf.Tensor2D> = {};
    for (const { inbound: item } of group.items) {
      if (item.kind !== 'latent') continue;
      const h = tf.tensor2d(item.values, [item.shape[0], item.shape[1]]); // [steps, hidden of the source]
      if (item.slot.kind === 'forward') thoughts[item.slot.source] = h;
      else fedBack[item.slot.source] = h;
    }
    return {
      request: runtimeRequest(request),
      round: group.round,
      thoughts,
      fedBack,
      texts: {},
      fedBackTexts: {},
      answer: '',
      usage: [],
    };
  };

  const outputsOf = (
    group: JoinGroup<Item>,
    state: RequestState,
    rows: UsageRow[],
  ): OutputRecord[] => {
    const request = group.items[0]!.inbound.request;
    const records: OutputRecord[] = [];
    let latents: Float32Array | undefined;
    for (const hop of route.hopsAfter(group.round)) {
      if (hop.kind === 'answer') {
        metrics.answers++;
        records.push({
          topic: topics.answers,
          message: answerMessage({
            requestId: request.requestId,
            topologyId: request.topologyId,
            topologyVersion: request.topologyVersion,
            text: plan.text(state),
            rounds: group.round,
            usage: answerUsageOf(rows, plan.order),
          }),
        });
      } else if (hop.kind === 'trigger') {
        metrics.triggersSent++;
        records.push(triggerRecord({ topic: topics.inboxes[hop.to]!, request, round: hop.round }));
      } else {
        latents ??= state.thoughts[me]!.dataSync() as Float32Array; // [steps, hidden], row-major
        metrics.latentsSent++;
        records.push(
          latentRecord({
            topic: topics.inboxes[hop.to]!,
            served,
            request,
            from: me,
            to: hop.to,
            edge: hop.edge,
            round: group.round,
            shape: shapes.get(me)!,
            values: latents,
            usage: rows,
            ...(options.latentDType ? { dtype: options.latentDType } : {}),
          }),
        );
      }
    }
    return records;
  };

  /** The request fails here: it is answered with the error (and rounds completed). */
  const finishWithError = (
    group: JoinGroup<Item>,
    rows: UsageRow[],
    error: unknown,
    where?: string,
  ) => {
    const request = group.items[0]!.inbound.request;
    const message = error instanceof Error ? error.message : String(error);
    const answer: WireAnswer = {
      requestId: request.requestId,
      topologyId: request.topologyId,
      topologyVersion: request.topologyVersion,
      text: '',
      rounds: group.round - 1,
      usage: answerUsageOf(rows, plan.order),
      error: { code: errorCode(error), message: where ? `${where}: ${message}` : message },
    };
    metrics.errorAnswers++;
    emit([{ topic: topics.answers, message: answerMessage(answer) }], messagesOf(group), () =>
      join.markDone(group.requestId, group.round),
    );
  };

  const expire = setInterval(
    () => {
      for (const group of join.expired(joinTimeoutMs)) {
        metrics.joinTimeouts++;
        const have = group.items.map((item) => slotKey(item.inbound));
        const want = route.inputsOf(group.round).map((s) => `${s.kind}:${s.source}`);
        const missing = want.filter((slot) => !have.includes(slot));
        const error = new Error(
          `request ${group.requestId} round ${group.round}: '${me}' waited ${joinTimeoutMs} ms for ${missing.join(', ')}`,
        );
        for (const item of group.items) {
          if (item.message.isCurrent())
            deadLetter(item.message, error, 'join_timeout', group.requestId);
        }
      }
      metrics.joinWaiting = join.size;
    },
    Math.min(1_000, joinTimeoutMs),
  );
  // A rewind re-delivers what was in flight: the copies waiting here are stale.
  const sweep = () => {
    join.dropStale();
    metrics.joinWaiting = join.size;
  };
  events.on('source.rewind', sweep);
  events.on('source.rebalance', sweep);

  let resolveDone!: () => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined); // observed through `done`; never an unhandled rejection here

  let closing: Promise<void> | undefined;
  function close(error?: unknown): Promise<void> {
    if (error !== undefined) failed = true;
    closing ??= (async () => {
      stopping = true;
      clearInterval(expire);
      // Graceful: ready work keeps running while the source drains it.
      if (error === undefined) await source.stop().catch(() => undefined);
      failed = true;
      clearTimeout(pumpTimer);
      subscription.unsubscribe();
      await sending;
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
      prepared.release();
      if (error === undefined) resolveDone();
      else rejectDone(error);
    })();
    return closing;
  }

  const subscription: Subscription = source.batches.subscribe({
    next: (batch) => {
      try {
        intake(batch.messages);
      } catch (error) {
        fatal(error);
      }
    },
    error: (error: unknown) => fatal(error),
    complete: () => {
      if (!stopping)
        fatal(new KafkaConnectorError('consumer_crashed', 'the source completed', false));
    },
  });

  return {
    agent: me,
    groupId,
    topics,
    metrics,
    events,
    ready,
    done,
    stop: () => close(),
  };
}

/** The request as the runtime's stages read it. */
function runtimeRequest(request: WireRequest): Request {
  return {
    requestId: request.requestId,
    input: request.input,
    topologyId: request.topologyId,
    topologyVersion: request.topologyVersion,
    metadata: request.metadata,
    deadlineUnixMs: request.deadlineUnixMs,
  };
}

function messagesOf(group: JoinGroup<Item>): SourceMessage[] {
  return group.items.map((item) => item.message);
}

/** A consumed record as a record to produce again, unchanged. */
function copyOf(message: SourceMessage): KafkaLikeOutgoingMessage {
  const headers: Record<string, Buffer | string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    const one = Array.isArray(value) ? value[0] : value;
    if (one !== undefined) headers[name] = one;
  }
  return { key: message.key, value: message.value, headers };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new DistributedError('invalid_options', `${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}
