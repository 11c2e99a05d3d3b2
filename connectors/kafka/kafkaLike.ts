/**
 * The part of the kafkajs API the connectors use, as structural types: kafkajs objects fit, and
 * so does the KafkaJS layer of `@confluentinc/kafka-javascript` (see the notes on each member).
 * Nothing here imports kafkajs.
 */

/** Header values as kafkajs delivers them. */
export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** A consumed record. */
export interface KafkaLikeMessage {
  key: Buffer | null;
  value: Buffer | null;
  /** int64 as a decimal string. */
  offset: string;
  timestamp: string;
  headers?: Record<string, HeaderValue>;
}

/** One partition's slice of a fetch, as handed to `eachBatch`. */
export interface KafkaLikeBatch {
  topic: string;
  partition: number;
  messages: KafkaLikeMessage[];
}

/** What `eachBatch` receives. */
export interface KafkaLikeEachBatchPayload {
  batch: KafkaLikeBatch;
  /** A no-op on the confluent client (librdkafka heartbeats by itself). */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** True when a seek or rebalance made this batch obsolete. */
  isStale(): boolean;
}

export interface KafkaLikeRunConfig {
  eachBatch: (payload: KafkaLikeEachBatchPayload) => Promise<void>;
  eachBatchAutoResolve?: boolean;
  /** kafkajs takes this here; the confluent client takes it in the consumer's own config. */
  autoCommit?: boolean;
  partitionsConsumedConcurrently?: number;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka's commit convention): last processed + 1. */
  offset: string;
}

/** A group consumer. `on`/`events` are optional: without them, rebalances are seen as rewinds. */
export interface KafkaLikeConsumer {
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: KafkaLikeRunConfig): Promise<void>;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** kafkajs: stops fetching and leaves the group. The confluent client has no stop (disconnect). */
  stop?(): Promise<void>;
  readonly events?: { GROUP_JOIN?: string; CRASH?: string };
  on?(
    event: string,
    listener: (event: {
      payload: {
        /** GROUP_JOIN: the partitions this member now owns. */
        memberAssignment?: Record<string, number[]>;
        /** CRASH: the error, and whether the client restarts by itself. */
        error?: Error;
        restart?: boolean;
      };
    }) => void,
  ): unknown;
}

/** A record to produce. */
export interface KafkaLikeOutgoingMessage {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string>;
}

export interface KafkaLikeTopicMessages {
  topic: string;
  messages: KafkaLikeOutgoingMessage[];
}

export interface KafkaLikeSender {
  sendBatch(batch: { topicMessages: KafkaLikeTopicMessages[] }): Promise<unknown>;
}

/**
 * Offsets to commit inside a transaction. kafkajs wants `consumerGroupId`; the confluent client
 * wants the `consumer` object itself (it then also fences zombies by group generation, KIP-447).
 */
export type TransactionOffsetsTarget = { consumerGroupId: string } | { consumer: unknown };

export interface KafkaLikeTransaction extends KafkaLikeSender {
  sendOffsets(
    offsets: {
      topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
    } & TransactionOffsetsTarget,
  ): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface KafkaLikeProducer extends KafkaLikeSender {
  /** Only for exactly-once mode: the producer must have a `transactionalId`. */
  transaction?(): Promise<KafkaLikeTransaction>;
}
