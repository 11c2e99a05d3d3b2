/**
 * Kafka connectors: a batch source with at-least-once commits and backpressure, answer and
 * dead-letter records, an exactly-once transactional outbox, and the request/answer pipeline
 * that ties them together. Any client with the kafkajs API fits (see kafkaLike.ts).
 */
export {
  type ConnectorEventMap,
  type ConnectorEventName,
  ConnectorEvents,
  type ConnectorMetrics,
  emptyMetrics,
} from './connectorEvents.ts';
export { KafkaConnectorError, type KafkaConnectorErrorCode } from './kafkaConnectorError.ts';
export type {
  KafkaLikeBatch,
  KafkaLikeConsumer,
  KafkaLikeEachBatchPayload,
  KafkaLikeMessage,
  KafkaLikeOutgoingMessage,
  KafkaLikeProducer,
  KafkaLikeTransaction,
  TopicPartitionOffset,
  TransactionOffsetsTarget,
} from './kafkaLike.ts';
export {
  type DeliveryGuarantee,
  type KafkaPipeline,
  type KafkaPipelineOptions,
  kafkaPipeline,
  type ProcessRequests,
} from './kafkaPipeline.ts';
export {
  type KafkaSource,
  type KafkaSourceOptions,
  kafkaSource,
  type OffsetCommitter,
  type SourceBatch,
  type SourceMessage,
} from './kafkaSource.ts';
export { type OffsetLease, PartitionOffsets } from './offsetTracker.ts';
export {
  answerMessage,
  deadLetterMessage,
  errorRecordFor,
  headerNames,
  type OutputRecord,
} from './outputRecords.ts';
export { TransactionalOutbox, type TransactionalOutboxOptions } from './transactionalOutbox.ts';
