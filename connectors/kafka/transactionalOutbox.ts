/**
 * Exactly-once read-process-write: outputs wait here until the transaction that also commits
 * their inputs' offsets (`sendOffsets`). A transaction carries exactly the outputs of the inputs
 * below the offsets it commits, so after a crash the redone inputs are precisely those whose
 * outputs were never committed, and `read_committed` readers see every output once.
 *
 * Two things keep that true when Kafka itself fails. A commit that fails half-way may still have
 * committed, so it is never retried by this producer (`transaction_in_doubt` ends the stream).
 * And before consuming starts, `prepare` registers the transactional id, which makes the
 * coordinator finish any transaction an earlier instance left half-committed: only then are the
 * group's committed offsets final.
 */
import { type ConnectorEvents, type ConnectorMetrics, emptyMetrics } from './connectorEvents.ts';
import { KafkaConnectorError } from './kafkaConnectorError.ts';
import type {
  KafkaLikeProducer,
  KafkaLikeTopicMessages,
  KafkaLikeTransaction,
  TopicPartitionOffset,
  TransactionOffsetsTarget,
} from './kafkaLike.ts';
import type { OffsetCommitter, SourceMessage } from './kafkaSource.ts';
import type { OutputRecord } from './outputRecords.ts';

interface Pending {
  offset: number;
  message: SourceMessage;
  records: readonly OutputRecord[];
}

export interface TransactionalOutboxOptions {
  /** A producer created with a `transactionalId` (kafkajs: also `maxInFlightRequests: 1`). */
  producer: KafkaLikeProducer;
  /** kafkajs: `{ consumerGroupId }`; confluent: `{ consumer }`. */
  offsetsTarget: TransactionOffsetsTarget;
  events?: ConnectorEvents;
  metrics?: ConnectorMetrics;
}

// Errors after which this producer can never commit again: another instance took over its
// transactional id (kafkajs reports `type`, librdkafka-based clients `code`).
const fencedErrors = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'ERR__FENCED',
  'ERR_PRODUCER_FENCED',
  'ERR_INVALID_PRODUCER_EPOCH',
]);

function isFenced(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const { type, code } = e as { type?: unknown; code?: unknown };
    if (fencedErrors.has(String(type)) || fencedErrors.has(String(code))) return true;
  }
  return false;
}

/**
 * Buffers outputs per input message and commits them with the input offsets in one transaction.
 * Use it as the source's committer, and `add` each message's outputs before acking it.
 *
 * @example
 * const outbox = new TransactionalOutbox({ producer, offsetsTarget: { consumerGroupId: 'g' } });
 * const source = kafkaSource({ consumer, topics: ['in'], committer: outbox });
 * // per message: outbox.add(message, records); message.ack();
 */
export class TransactionalOutbox implements OffsetCommitter {
  private readonly pending = new Map<string, Pending[]>();
  private readonly events: ConnectorEvents | undefined;
  private readonly metrics: ConnectorMetrics;

  constructor(private readonly options: TransactionalOutboxOptions) {
    if (!options.producer.transaction) {
      throw new KafkaConnectorError(
        'not_transactional',
        'exactly-once mode needs a producer with transaction() (created with a transactionalId)',
        false,
      );
    }
    this.events = options.events;
    this.metrics = options.metrics ?? emptyMetrics();
  }

  /** Records waiting for a transaction. */
  get size(): number {
    let count = 0;
    for (const list of this.pending.values()) for (const p of list) count += p.records.length;
    return count;
  }

  /** Holds `records`, the outputs of `message`, until its offset is committed. */
  add(message: SourceMessage, records: readonly OutputRecord[]): void {
    const key = `${message.topic}\u0000${message.partition}`;
    let list = this.pending.get(key);
    if (!list) {
      list = [];
      this.pending.set(key, list);
    }
    list.push({ offset: Number(message.offset), message, records });
  }

  /**
   * Registers the transactional id (kafkajs does it lazily, at the first transaction). This fences
   * earlier instances, and returns only once the transaction they left is committed or aborted.
   */
  async prepare(): Promise<void> {
    const empty = await this.options.producer.transaction!();
    await empty.abort(); // nothing was sent: no request reaches the broker
  }

  /** One transaction: the outputs of every input below `offsets`, then the offsets themselves. */
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.dropStale();
    const taken: { key: string; entries: Set<Pending> }[] = [];
    const byTopic = new Map<string, KafkaLikeTopicMessages>();
    let recordCount = 0;
    for (const { topic, partition, offset } of offsets) {
      const key = `${topic}\u0000${partition}`;
      const limit = Number(offset);
      const entries = new Set<Pending>();
      for (const entry of this.pending.get(key) ?? []) {
        if (entry.offset >= limit) continue;
        entries.add(entry);
        for (const record of entry.records) {
          let group = byTopic.get(record.topic);
          if (!group) {
            group = { topic: record.topic, messages: [] };
            byTopic.set(record.topic, group);
          }
          group.messages.push(record.message);
          recordCount++;
        }
      }
      taken.push({ key, entries });
    }
    const began = Date.now();
    let transaction: KafkaLikeTransaction | undefined;
    let committing = false;
    try {
      transaction = await this.options.producer.transaction!();
      if (byTopic.size > 0) await transaction.sendBatch({ topicMessages: [...byTopic.values()] });
      const topics = new Map<string, { partition: number; offset: string }[]>();
      for (const { topic, partition, offset } of offsets) {
        const list = topics.get(topic) ?? [];
        list.push({ partition, offset });
        topics.set(topic, list);
      }
      await transaction.sendOffsets({
        ...this.options.offsetsTarget,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
      committing = true;
      await transaction.commit();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (isFenced(error)) {
        throw new KafkaConnectorError(
          'producer_fenced',
          'another producer took over this transactional id; this instance must stop',
          false,
          { cause: error },
        );
      }
      if (committing) {
        this.events?.emit('transaction.in-doubt', () => ({ error }));
        throw new KafkaConnectorError(
          'transaction_in_doubt',
          `the transaction's commit failed and may have gone through: ${reason}`,
          true,
          { cause: error },
        );
      }
      await transaction?.abort().catch(() => undefined);
      this.metrics.transactionAborts++;
      this.events?.emit('transaction.abort', () => ({ error }));
      throw new KafkaConnectorError('transaction_failed', `transaction aborted: ${reason}`, true, {
        cause: error,
      });
    }
    for (const { key, entries } of taken) {
      const rest = (this.pending.get(key) ?? []).filter((entry) => !entries.has(entry));
      if (rest.length > 0) this.pending.set(key, rest);
      else this.pending.delete(key);
    }
    this.metrics.transactions++;
    this.events?.emit('transaction.commit', () => ({
      records: recordCount,
      durationMs: Date.now() - began,
    }));
  }

  /** A stale delivery (its partition was rewound or revoked) will be redone: drop its outputs. */
  private dropStale(): void {
    for (const [key, list] of this.pending) {
      const current = list.filter((entry) => entry.message.isCurrent());
      if (current.length === 0) this.pending.delete(key);
      else if (current.length !== list.length) this.pending.set(key, current);
    }
  }
}
