/**
 * One Kafka session of a worker: a consumer and a producer, and what is in flight between them
 * (the join, the ready queues, the acknowledgements held, the writes). A session that loses Kafka
 * for good (kafkajs gives up on a consumer after some connection errors, e.g. while the broker
 * restarts) ends as `lost`; its inputs were never committed, so the worker starts a new session
 * and reads them again. The model and the plan outlive sessions.
 */
import * as tf from '@tensorflow/tfjs';
import { type Kafka, Partitioners } from 'kafkajs';
import type { Subscription } from 'rxjs';
import {
  errorCode,
  type Request,
  type RequestState,
  RuntimeError,
  type Stage,
  type TopologyPlan,
} from '../../runtime/index.ts';
import {
  answerMessage,
  type ConnectorEvents,
  type DeliveryGuarantee,
  deadLetterMessage,
  errorRecordFor,
  KafkaConnectorError,
  type KafkaLikeOutgoingMessage,
  type KafkaLikeProducer,
  kafkaSource,
  type OutputRecord,
  type SourceMessage,
  TransactionalOutbox,
} from '../kafka/index.ts';
import { type WireAnswer, WireError, type WireRequest } from '../wire/index.ts';
import { runIsolated } from './agentStage.ts';
import { GroupAcks } from './groupAcks.ts';
import {
  type Inbound,
  type InboundContext,
  latentRecord,
  readInbound,
  type ServedId,
  triggerRecord,
} from './hopRecords.ts';
import { type JoinGroup, LatentJoin } from './latentJoin.ts';
import type { AgentRoute } from './routes.ts';
import { sendWithRetry } from './sendRecords.ts';
import type { DistributedTopics } from './topics.ts';
import { answerUsageOf, mergeUsageRows, stageUsageRows, type UsageRow } from './usageRows.ts';
import type { RunWorkerOptions, WorkerMetrics } from './worker.ts';

/** What a worker's sessions share: the agent, its plan and route, settings, counters. */
export interface SessionContext {
  readonly options: RunWorkerOptions;
  readonly me: string;
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly transactionalId: string;
  readonly guarantee: DeliveryGuarantee;
  readonly topics: DistributedTopics;
  readonly served: ServedId;
  readonly plan: TopologyPlan;
  readonly route: AgentRoute;
  /** Whether this agent reports bad requests (one of the agents reading them does). */
  readonly reportsRequests: boolean;
  readonly stages: { latent: Stage<RequestState>; decode: Stage<RequestState> | undefined };
  readonly shapes: ReadonlyMap<string, readonly [number, number]>;
  readonly inbound: InboundContext;
  readonly maxBatchSize: number;
  readonly lingerMs: number;
  readonly joinCapacity: number;
  readonly joinTimeoutMs: number;
  readonly metrics: WorkerMetrics;
  readonly events: ConnectorEvents;
  /** Called at every group join. */
  readonly onGroupJoin: () => void;
}

/** How a session ended: stopped on request, lost Kafka (start another), or failed for good. */
export type SessionEnd =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'lost'; readonly error: unknown }
  | { readonly kind: 'failed'; readonly error: unknown };

export interface WorkerSession {
  /** Resolves once the session has ended and let go of its clients. */
  readonly ended: Promise<SessionEnd>;
  /** Graceful: stop fetching, finish and commit in-flight work, disconnect. */
  stop(): Promise<SessionEnd>;
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
 * Connects a consumer and a producer and starts consuming.
 *
 * @example const session = await startSession(context); const end = await session.ended;
 */
export async function startSession(context: SessionContext): Promise<WorkerSession> {
  const { options, me, topics, plan, route, metrics, events, guarantee, groupId } = context;
  const { maxBatchSize, lingerMs, joinCapacity, joinTimeoutMs } = context;
  const consumer = context.kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 500,
    ...options.consumerConfig,
  });
  const producer = context.kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    ...(guarantee === 'exactly-once'
      ? { transactionalId: context.transactionalId, transactionTimeout: 30_000 }
      : {}),
    ...options.producerConfig,
  });
  try {
    await producer.connect();
    await consumer.connect();
  } catch (error) {
    await Promise.allSettled([producer.disconnect(), consumer.disconnect()]);
    throw error;
  }

  const sourceMetrics = metrics.source;
  const outbox =
    guarantee === 'exactly-once'
      ? new TransactionalOutbox({
          producer: producer as KafkaLikeProducer,
          offsetsTarget: { consumerGroupId: groupId },
          events,
          metrics: sourceMetrics,
        })
      : undefined;
  const source = kafkaSource({
    consumer,
    topics: route.readsRequests ? [topics.requests, topics.inboxes[me]!] : [topics.inboxes[me]!],
    fromBeginning: options.fromBeginning ?? true,
    highWaterMark: options.highWaterMark ?? joinCapacity + 4 * maxBatchSize,
    drainTimeoutMs: options.drainTimeoutMs ?? 3_000,
    ...(outbox ? { committer: outbox } : {}),
    events,
    metrics: sourceMetrics,
  });

  // A consumer of an ended session must stay down: kafkajs may have scheduled a restart of it
  // (after a crash) that our disconnect raced with. A member left in the group would take
  // partitions and drop their records.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (over) void consumer.disconnect().catch(() => undefined);
    else context.onGroupJoin();
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    // kafkajs restarts a consumer after retriable failures; after the others it stops for good.
    if (!payload.restart) end({ kind: 'lost', error: payload.error });
    // The restart is scheduled right after this event: cancel it once it is.
    else if (over) queueMicrotask(() => void consumer.stop().catch(() => undefined));
  });

  const join = new LatentJoin<Item>({
    isLive: (item) => item.message.isCurrent(),
    // Exactly-once re-reads only what was never committed: all of it must run again.
    rememberDone: guarantee === 'at-least-once' ? 100_000 : 0,
  });
  const acks = new GroupAcks();
  /** Groups with all their inputs, by the stage they need. */
  const queues: Record<'latent' | 'decode', JoinGroup<Item>[]> = { latent: [], decode: [] };
  const queued = () => queues.latent.length + queues.decode.length;
  let over = false;
  let stopping = false;
  let pumping = false;
  let pumpTimer: NodeJS.Timeout | undefined;
  // At-least-once: one send in flight; what is emitted meanwhile goes out together after it (as
  // the outbox's transactions do), so a busy worker writes few, large requests.
  let outgoing: Outgoing = { records: [], groups: [], after: [] };
  let sending: Promise<void> | undefined;

  const flush = () => {
    if (sending !== undefined || outgoing.groups.length === 0 || over) return;
    const batch = outgoing;
    outgoing = { records: [], groups: [], after: [] };
    sending = sendWithRetry(producer, batch.records)
      .then(
        () => {
          for (const group of batch.groups) acks.done(group);
          for (const after of batch.after) after();
        },
        // Not written, not acknowledged: a new session reads these inputs again.
        (error: unknown) => end({ kind: 'lost', error }),
      )
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
    if (over) return;
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

  const slotKey = (item: Inbound) =>
    item.kind === 'request' ? 'request' : `${item.slot.kind}:${item.slot.source}`;

  const intake = (messages: readonly SourceMessage[]) => {
    for (const message of messages) {
      acks.received(message);
      let read: Inbound;
      try {
        read = readInbound(message, context.inbound);
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
        // Every agent that starts round 1 reads the requests topic; one of them reports.
        if (message.topic === topics.requests && !context.reportsRequests) {
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
    if (pumping || pumpTimer !== undefined || queued() === 0 || over) return;
    const delay = queued() >= maxBatchSize ? 0 : lingerMs;
    pumpTimer = setTimeout(() => {
      pumpTimer = undefined;
      void pump();
    }, delay);
  };

  const pump = async () => {
    pumping = true;
    try {
      while (queued() > 0 && !over) {
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
      end({ kind: 'failed', error });
    } finally {
      pumping = false;
      schedulePump();
    }
  };

  const runBatch = async (kind: 'latent' | 'decode', batch: JoinGroup<Item>[]) => {
    const began = performance.now();
    const stage = kind === 'decode' ? context.stages.decode! : context.stages.latent;
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
            served: context.served,
            request,
            from: me,
            to: hop.to,
            edge: hop.edge,
            round: group.round,
            shape: context.shapes.get(me)!,
            values: latents,
            usage: rows,
            ...(options.latentDType ? { dtype: options.latentDType } : {}),
          }),
        );
      }
    }
    return records;
  };

  /** The request fails here: it is answered with the error (and the rounds completed). */
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
    if (over) return;
    join.dropStale();
    metrics.joinWaiting = join.size;
  };
  // A kafkajs transactional producer whose commit failed half-way (the coordinator went away)
  // can stay in a state where no transaction starts again: after a few aborts in a row, start a
  // new session (its producer's first transaction fences this one's and settles what it left).
  let abortsInARow = 0;
  const stopListening = [
    events.on('source.rewind', sweep),
    events.on('source.rebalance', sweep),
    events.on('transaction.commit', () => {
      abortsInARow = 0;
    }),
    events.on('transaction.abort', ({ error }) => {
      if (++abortsInARow >= 3) end({ kind: 'lost', error });
    }),
  ];

  let settle!: (end: SessionEnd) => void;
  const ended = new Promise<SessionEnd>((resolve) => {
    settle = resolve;
  });
  let subscription: Subscription | undefined;
  let ending = false;
  /** Ends the session once: drops what is in flight (never committed), lets go of the clients. */
  function end(how: SessionEnd): void {
    if (ending) return;
    ending = true;
    over = true;
    clearInterval(expire);
    clearTimeout(pumpTimer);
    for (const off of stopListening) off();
    subscription?.unsubscribe();
    void (async () => {
      await sending?.catch(() => undefined);
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
      metrics.joinWaiting = 0;
      settle(how);
    })();
  }

  subscription = source.batches.subscribe({
    next: (batch) => {
      try {
        intake(batch.messages);
      } catch (error) {
        end({ kind: 'failed', error });
      }
    },
    error: (error: unknown) => {
      // The consumer stopped for good, or a retriable failure of the plumbing: a new session may
      // succeed. Anything else (a fenced producer) is fatal.
      const lost =
        (error instanceof KafkaConnectorError && error.code === 'consumer_crashed') ||
        (error as { retriable?: unknown } | null)?.retriable === true;
      end(lost ? { kind: 'lost', error } : { kind: 'failed', error });
    },
    complete: () => {
      if (!stopping) {
        end({
          kind: 'lost',
          error: new KafkaConnectorError('consumer_crashed', 'the source completed', true),
        });
      }
    },
  });

  if (over) subscription.unsubscribe(); // ended while subscribing

  return {
    ended,
    async stop() {
      if (!over && !stopping) {
        stopping = true;
        // Graceful: ready work keeps running while the source drains it.
        await source.stop().catch(() => undefined);
        end({ kind: 'stopped' });
      }
      return ended;
    },
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
