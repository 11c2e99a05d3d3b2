/**
 * Kafka `eachBatch` as an Observable of batches, with at-least-once commits, backpressure and
 * draining. Each emitted batch is one partition's slice of a fetch, so a consumer of the stream
 * can feed it to the topology as one tensor batch.
 */
import { Observable } from 'rxjs';
import { ConnectorEvents, type ConnectorMetrics, emptyMetrics } from './connectorEvents.ts';
import { KafkaConnectorError } from './kafkaConnectorError.ts';
import type {
  HeaderValue,
  KafkaLikeConsumer,
  KafkaLikeEachBatchPayload,
  KafkaLikeMessage,
  TopicPartitionOffset,
} from './kafkaLike.ts';
import { type OffsetLease, PartitionOffsets } from './offsetTracker.ts';

/** A consumed record plus the handle that says its outputs are durable. */
export interface SourceMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, HeaderValue>;
  readonly timestamp: string;
  /**
   * Every output of this message is durable (written, or buffered in the open transaction).
   * Idempotent. Offsets are committed only up to the lowest message not yet acknowledged.
   */
  ack(): void;
  /** False once the partition was rewound or revoked: this delivery will be redone. */
  isCurrent(): boolean;
}

/** One partition's messages from one fetch, in offset order. */
export interface SourceBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly SourceMessage[];
}

/** Commits "next offset to read" positions. The default uses `consumer.commitOffsets`. */
export interface OffsetCommitter {
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * Runs once before the consumer joins its group, so the committed offsets it is given are
   * final (a transactional committer settles what an earlier instance left in doubt).
   */
  prepare?(): Promise<void>;
}

export interface KafkaSourceOptions {
  /** Connected, not yet running. The source subscribes and runs it. */
  consumer: KafkaLikeConsumer;
  topics: string[];
  /** kafkajs only (the confluent client takes it in the consumer config). */
  fromBeginning?: boolean;
  /**
   * Pause fetching when this many messages are in flight (not yet acknowledged). Default 10,000:
   * above what one fetch of small records brings, so a fetch is not cut into stop-and-go pieces.
   */
  highWaterMark?: number;
  /** Resume when in-flight messages fall to this many. Default highWaterMark / 2. */
  lowWaterMark?: number;
  /** Where commits go. Default: the consumer group (at-least-once). */
  committer?: OffsetCommitter;
  /** Pass `autoCommit: false` to `run()` (kafkajs). Set false for the confluent client. Default true. */
  autoCommitInRun?: boolean;
  partitionsConsumedConcurrently?: number;
  /** Longest wait for in-flight work before a rebalance or a stop. Default 10 s. */
  drainTimeoutMs?: number;
  /** Heartbeat period while fetching is paused. Default 1 s. */
  pausedHeartbeatMs?: number;
  /**
   * Shortest time between two commits (acks in between are committed together). Longer means
   * less broker work and more redone messages after a crash. Default 100 ms.
   */
  commitIntervalMs?: number;
  events?: ConnectorEvents;
  metrics?: ConnectorMetrics;
}

export interface KafkaSource {
  /** Cold: subscribing runs the consumer; unsubscribing stops it without draining. One subscriber. */
  readonly batches: Observable<SourceBatch>;
  /** Messages handed out and not yet acknowledged. */
  readonly inFlight: number;
  /**
   * Graceful stop: no new batches, wait for in-flight work (up to drainTimeoutMs), commit it,
   * stop the consumer, complete `batches`.
   */
  stop(): Promise<void>;
  readonly events: ConnectorEvents;
  readonly metrics: ConnectorMetrics;
}

/**
 * Reads `topics` with `eachBatch` and emits one `SourceBatch` per partition slice.
 *
 * @example
 * const source = kafkaSource({ consumer, topics: ['requests'] });
 * source.batches.pipe(mergeMap(async (batch) => { await handle(batch); batch.messages.forEach((m) => m.ack()); }, 4)).subscribe();
 * // later: await source.stop();
 */
export function kafkaSource(options: KafkaSourceOptions): KafkaSource {
  return new KafkaSourceImpl(options);
}

class KafkaSourceImpl implements KafkaSource {
  readonly batches: Observable<SourceBatch>;
  readonly events: ConnectorEvents;
  readonly metrics: ConnectorMetrics;
  private inFlightCount = 0;
  private readonly trackers = new Map<string, Map<number, PartitionOffsets>>();
  /**
   * Per `topic/partition`, the highest offset this source has committed. It outlives rebalances:
   * a rejoin may be handed an older position than ours (a transaction's offsets become visible
   * only once its markers are written, and kafkajs cannot ask for stable offsets), and what lies
   * below it is done.
   */
  private readonly committedFloor = new Map<string, number>();
  /** Who waits for in-flight messages to fall to a limit (the paused fetch loop, a drain). */
  private readonly inFlightWaiters = new Set<{ limit: number; wake: () => void }>();
  /** The largest limit among the waiters, -1 when none: one comparison per ack. */
  private wakeAtOrBelow = -1;
  private readonly committer: OffsetCommitter;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private readonly drainTimeoutMs: number;
  private readonly pausedHeartbeatMs: number;
  private readonly commitIntervalMs: number;
  private lastCommitAt = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private subscribed = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private complete: (() => void) | undefined;
  private fail: ((error: unknown) => void) | undefined;
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private commitScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: KafkaSourceOptions) {
    this.events = options.events ?? new ConnectorEvents();
    this.metrics = options.metrics ?? emptyMetrics();
    this.committer = options.committer ?? {
      commit: (offsets) => options.consumer.commitOffsets([...offsets]),
    };
    this.highWaterMark = options.highWaterMark ?? 10_000;
    this.lowWaterMark = options.lowWaterMark ?? Math.floor(this.highWaterMark / 2);
    if (!(this.lowWaterMark >= 0 && this.lowWaterMark < this.highWaterMark)) {
      throw new RangeError(
        `lowWaterMark (${this.lowWaterMark}) must be >= 0 and below highWaterMark (${this.highWaterMark})`,
      );
    }
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.pausedHeartbeatMs = options.pausedHeartbeatMs ?? 1_000;
    this.commitIntervalMs = options.commitIntervalMs ?? 100;
    this.batches = new Observable<SourceBatch>((subscriber) => {
      if (this.subscribed) {
        subscriber.error(
          new KafkaConnectorError('already_subscribed', 'a kafkaSource has one subscriber', false),
        );
        return;
      }
      this.subscribed = true;
      this.complete = () => subscriber.complete();
      this.fail = (error) => subscriber.error(error);
      this.start((batch) => subscriber.next(batch)).catch((error: unknown) =>
        subscriber.error(error),
      );
      return () => {
        if (this.stopping) return;
        this.stopping = true;
        clearTimeout(this.retryTimer);
        clearTimeout(this.commitTimer);
        void this.options.consumer.stop?.().catch(() => undefined);
      };
    });
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      if (this.subscribed) {
        this.pauseAll();
        await this.drain('stop');
        clearTimeout(this.retryTimer);
        clearTimeout(this.commitTimer);
        await this.options.consumer.stop?.();
      }
      this.complete?.();
    })();
    return this.stopped;
  }

  private async start(emit: (batch: SourceBatch) => void): Promise<void> {
    const { consumer, topics } = this.options;
    await this.committer.prepare?.();
    const joinEvent = consumer.events?.GROUP_JOIN;
    if (joinEvent && consumer.on) {
      consumer.on(joinEvent, (event) => this.onGroupJoin(event.payload.memberAssignment ?? {}));
    }
    // kafkajs restarts itself after retriable failures; after the others the stream must end.
    const crashEvent = consumer.events?.CRASH;
    if (crashEvent && consumer.on) {
      consumer.on(crashEvent, ({ payload }) => {
        if (payload.restart === false && !this.stopping) {
          this.fail?.(
            new KafkaConnectorError(
              'consumer_crashed',
              `the consumer stopped: ${payload.error?.message ?? 'unknown error'}`,
              false,
              { cause: payload.error },
            ),
          );
        }
      });
    }
    await consumer.subscribe(
      this.options.fromBeginning === undefined
        ? { topics }
        : { topics, fromBeginning: this.options.fromBeginning },
    );
    await consumer.run({
      eachBatchAutoResolve: true,
      ...(this.options.autoCommitInRun === false ? {} : { autoCommit: false }),
      ...(this.options.partitionsConsumedConcurrently
        ? { partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently }
        : {}),
      eachBatch: (payload) => this.eachBatch(payload, emit),
    });
  }

  private async eachBatch(
    payload: KafkaLikeEachBatchPayload,
    emit: (batch: SourceBatch) => void,
  ): Promise<void> {
    const { batch } = payload;
    if (this.stopping || payload.isStale() || batch.messages.length === 0) return;
    const last = this.trackerFor(batch.topic, batch.partition).lastReceived;
    const rereading = last === undefined || Number(batch.messages[0]!.offset) <= last;
    // Where reading starts again (a rejoin, a restart), skip what this source has committed; a
    // commit in flight may raise that floor, so it is read once the commit is over.
    if (rereading && this.committing) await this.committing;
    const floor = this.committedFloor.get(`${batch.topic}/${batch.partition}`) ?? -1;
    const fresh =
      rereading && floor >= 0
        ? batch.messages.filter((m) => Number(m.offset) >= floor)
        : batch.messages;
    this.metrics.alreadyCommitted += batch.messages.length - fresh.length;
    if (fresh.length === 0 || this.stopping) return;
    const tracker = this.trackerFor(batch.topic, batch.partition);
    const firstOffset = fresh[0]!.offset;
    if (tracker.lastReceived !== undefined && Number(firstOffset) <= tracker.lastReceived) {
      // Read again from an earlier offset: whatever was in flight will be redone.
      tracker.rewind();
      this.metrics.rewinds++;
      this.events.emit('source.rewind', () => ({
        topic: batch.topic,
        partition: batch.partition,
        fromOffset: firstOffset,
      }));
    }
    const messages = fresh.map((message) =>
      this.sourceMessage(batch.topic, batch.partition, message, tracker),
    );
    this.inFlightCount += messages.length;
    this.metrics.received += messages.length;
    this.events.emit('source.batch', () => ({
      topic: batch.topic,
      partition: batch.partition,
      size: messages.length,
      firstOffset,
    }));
    emit({ topic: batch.topic, partition: batch.partition, messages });
    if (this.inFlightCount >= this.highWaterMark) await this.holdBack(payload);
    else await this.heartbeatOrDrain(payload);
  }

  private sourceMessage(
    topic: string,
    partition: number,
    message: KafkaLikeMessage,
    tracker: PartitionOffsets,
  ): SourceMessage {
    return new TrackedMessage(
      topic,
      partition,
      message,
      tracker,
      tracker.receive(message.offset),
      this,
    );
  }

  /** Called once per message by `TrackedMessage.ack`. */
  acknowledge(tracker: PartitionOffsets, lease: OffsetLease): void {
    this.inFlightCount--;
    this.metrics.acknowledged++;
    if (tracker.ack(lease)) this.scheduleCommit();
    if (this.inFlightCount <= this.wakeAtOrBelow) this.wakeInFlightWaiters();
  }

  /** Above the high-water mark: pause, and wait (heartbeating) down to the low-water mark. */
  private async holdBack(payload: KafkaLikeEachBatchPayload): Promise<void> {
    this.pauseAll();
    this.metrics.pauses++;
    this.events.emit('source.pause', () => ({ inFlight: this.inFlightCount }));
    const pausedAt = Date.now();
    try {
      while (this.inFlightCount > this.lowWaterMark && !this.stopping && payload.isRunning()) {
        await this.inFlightAtMost(this.lowWaterMark, this.pausedHeartbeatMs);
        await this.heartbeatOrDrain(payload);
      }
    } finally {
      if (!this.stopping) {
        this.options.consumer.resume(this.options.topics.map((topic) => ({ topic })));
        this.events.emit('source.resume', () => ({
          inFlight: this.inFlightCount,
          pausedMs: Date.now() - pausedAt,
        }));
      }
    }
  }

  /**
   * A failing heartbeat means the group is rebalancing (or the coordinator moved): finish and
   * commit the in-flight work while this member still owns its partitions, then let the client
   * rejoin. The next owner then starts exactly after what was done.
   */
  private async heartbeatOrDrain(payload: KafkaLikeEachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (error) {
      await this.drain('rebalance');
      throw error;
    }
  }

  private async drain(reason: 'rebalance' | 'stop'): Promise<void> {
    const began = Date.now();
    const deadline = began + this.drainTimeoutMs;
    while (this.inFlightCount > 0 && Date.now() < deadline) {
      await this.inFlightAtMost(0, Math.max(1, deadline - Date.now()));
    }
    await this.commitNow();
    // One more round if the first commit failed (e.g. the coordinator was moving).
    if (this.hasUncommittedProgress()) await this.commitNow();
    this.events.emit('source.drain', () => ({
      reason,
      inFlightLeft: this.inFlightCount,
      durationMs: Date.now() - began,
    }));
  }

  private onGroupJoin(assignment: Record<string, number[]>): void {
    // A new generation reads every partition again from its committed offset: everything in
    // flight is redone, so none of it may be committed any more.
    for (const [topic, partitions] of this.trackers) {
      for (const [partition, tracker] of partitions) {
        tracker.rewind();
        if (!assignment[topic]?.includes(partition)) partitions.delete(partition);
      }
    }
    this.events.emit('source.rebalance', () => ({ assignment }));
  }

  private trackerFor(topic: string, partition: number): PartitionOffsets {
    let partitions = this.trackers.get(topic);
    if (!partitions) {
      partitions = new Map();
      this.trackers.set(topic, partitions);
    }
    let tracker = partitions.get(partition);
    if (!tracker) {
      tracker = new PartitionOffsets();
      partitions.set(partition, tracker);
    }
    return tracker;
  }

  private pauseAll(): void {
    this.options.consumer.pause(this.options.topics.map((topic) => ({ topic })));
  }

  /** Resolves once in-flight messages are at most `limit`, or after `timeoutMs`. */
  private inFlightAtMost(limit: number, timeoutMs: number): Promise<void> {
    if (this.inFlightCount <= limit) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        limit,
        wake: () => {
          clearTimeout(timer);
          this.inFlightWaiters.delete(waiter);
          this.wakeAtOrBelow = Math.max(-1, ...[...this.inFlightWaiters].map((w) => w.limit));
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      this.inFlightWaiters.add(waiter);
      this.wakeAtOrBelow = Math.max(this.wakeAtOrBelow, limit);
    });
  }

  private wakeInFlightWaiters(): void {
    for (const waiter of [...this.inFlightWaiters]) {
      if (this.inFlightCount <= waiter.limit) waiter.wake();
    }
  }

  private hasUncommittedProgress(): boolean {
    for (const partitions of this.trackers.values()) {
      for (const tracker of partitions.values()) if (tracker.committable()) return true;
    }
    return false;
  }

  /** Coalesces acks into one commit: at the next turn of the event loop, or after the interval. */
  private scheduleCommit(): void {
    if (this.commitScheduled || this.stopping) return;
    this.commitScheduled = true;
    const run = () => {
      this.commitScheduled = false;
      void this.commitNow();
    };
    const wait = this.lastCommitAt + this.commitIntervalMs - Date.now();
    if (wait > 0) this.commitTimer = setTimeout(run, wait);
    else setImmediate(run);
  }

  /** At most one commit in flight; progress made meanwhile is committed right after it. */
  private commitNow(): Promise<void> {
    if (this.committing) {
      this.commitAgain = true;
      return this.committing;
    }
    this.committing = this.commitLoop().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private async commitLoop(): Promise<void> {
    do {
      this.commitAgain = false;
      const offsets: (TopicPartitionOffset & { epoch: number; tracker: PartitionOffsets })[] = [];
      for (const [topic, partitions] of this.trackers) {
        for (const [partition, tracker] of partitions) {
          const offset = tracker.committable();
          const floor = this.committedFloor.get(`${topic}/${partition}`) ?? -1;
          if (offset !== undefined && Number(offset) > floor) {
            offsets.push({ topic, partition, offset, epoch: tracker.epoch, tracker });
          }
        }
      }
      if (offsets.length === 0) return;
      this.lastCommitAt = Date.now();
      try {
        await this.committer.commit(
          offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
        );
      } catch (error) {
        this.metrics.commitErrors++;
        this.events.emit('commit.error', () => ({ error }));
        // A transaction whose outcome is unknown must not be retried in place: it may have
        // committed, and its outputs would be written twice.
        if (
          error instanceof KafkaConnectorError &&
          (!error.retriable || error.code === 'transaction_in_doubt')
        ) {
          this.fail?.(error);
          return;
        }
        // Retried with the next ack, at drain, or after a pause if nothing else happens.
        if (!this.stopping) {
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.scheduleCommit(), 200);
        }
        return;
      }
      for (const { topic, partition, offset, epoch, tracker } of offsets) {
        tracker.markCommitted(offset, epoch);
        const key = `${topic}/${partition}`;
        this.committedFloor.set(key, Math.max(Number(offset), this.committedFloor.get(key) ?? 0));
      }
      this.metrics.commits++;
      this.events.emit('commit', () => ({
        offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      }));
    } while (this.commitAgain);
  }
}

/** A message handed downstream. A class, not closures: one of these exists per record. */
class TrackedMessage implements SourceMessage {
  private acknowledged = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly message: KafkaLikeMessage,
    private readonly tracker: PartitionOffsets,
    private readonly lease: OffsetLease,
    private readonly source: KafkaSourceImpl,
  ) {}

  get offset(): string {
    return this.message.offset;
  }

  get key(): Buffer | null {
    return this.message.key;
  }

  get value(): Buffer | null {
    return this.message.value;
  }

  get headers(): Record<string, HeaderValue> {
    return this.message.headers ?? {};
  }

  get timestamp(): string {
    return this.message.timestamp;
  }

  ack(): void {
    if (this.acknowledged) return;
    this.acknowledged = true;
    this.source.acknowledge(this.tracker, this.lease);
  }

  isCurrent(): boolean {
    return this.tracker.epoch === this.lease.epoch;
  }
}
