/**
 * requests topic -> decode and validate -> your batch function -> answers topic, with bad
 * inputs routed to a dead-letter topic, in at-least-once or exactly-once mode.
 */
import { defer, from, isObservable, lastValueFrom, mergeMap, type Observable } from 'rxjs';
import {
  decodeRequest,
  type WireAnswer,
  WireError,
  type WireReadOptions,
  type WireRequest,
} from '../wire/index.ts';
import { ConnectorEvents, type ConnectorMetrics, emptyMetrics } from './connectorEvents.ts';
import { KafkaConnectorError } from './kafkaConnectorError.ts';
import type {
  KafkaLikeConsumer,
  KafkaLikeProducer,
  KafkaLikeTopicMessages,
  TransactionOffsetsTarget,
} from './kafkaLike.ts';
import { kafkaSource, type SourceMessage } from './kafkaSource.ts';
import {
  answerMessage,
  deadLetterMessage,
  errorRecordFor,
  type OutputRecord,
} from './outputRecords.ts';
import { TransactionalOutbox } from './transactionalOutbox.ts';

/**
 * Answers a batch of requests: `answers[i]` answers `requests[i]`. A request the topology fails
 * on gets an answer with `error`; if the whole call throws, the batch goes to the dead letters
 * with code `processing_failed`.
 */
export type ProcessRequests = (
  requests: readonly WireRequest[],
) => Promise<readonly WireAnswer[]> | Observable<readonly WireAnswer[]>;

export type DeliveryGuarantee = 'at-least-once' | 'exactly-once';

export interface KafkaPipelineOptions {
  /** Connected, not running. */
  consumer: KafkaLikeConsumer;
  /** Connected. For exactly-once: created with a `transactionalId` (stable per instance). */
  producer: KafkaLikeProducer;
  inputTopics: string[];
  outputTopic: string;
  deadLetterTopic: string;
  process: ProcessRequests;
  /** Default at-least-once. */
  guarantee?: DeliveryGuarantee;
  /** Exactly-once only. kafkajs: `{ consumerGroupId }`; confluent: `{ consumer }`. */
  offsetsTarget?: TransactionOffsetsTarget;
  /** Size limit and topology catalog for validating requests. */
  wire?: WireReadOptions;
  /** Largest batch handed to `process` (a source batch is split if larger). Default 512. */
  maxBatchSize?: number;
  /** Batches processed at once. Default 4. */
  concurrency?: number;
  fromBeginning?: boolean;
  /**
   * Pause fetching at this many unanswered messages. Default 2 * maxBatchSize * concurrency:
   * every processing slot busy with one batch queued behind it.
   */
  highWaterMark?: number;
  lowWaterMark?: number;
  autoCommitInRun?: boolean;
  drainTimeoutMs?: number;
  /** Shortest time between commits (or transactions). Default 100 ms. */
  commitIntervalMs?: number;
  events?: ConnectorEvents;
}

export interface KafkaPipeline {
  /** Runs until `stop()` (resolves) or a fatal connector error (rejects). */
  run(): Promise<void>;
  /** Stops fetching, finishes and commits in-flight work, stops the consumer. */
  stop(): Promise<void>;
  readonly events: ConnectorEvents;
  readonly metrics: ConnectorMetrics;
}

/**
 * A Kafka request/answer pipeline around a batch function.
 *
 * @example
 * const pipeline = kafkaPipeline({
 *   consumer, producer, inputTopics: ['requests'], outputTopic: 'answers', deadLetterTopic: 'requests.dlq',
 *   process: async (requests) => requests.map((r) => ({ requestId: r.requestId, topologyId: r.topologyId,
 *     topologyVersion: r.topologyVersion, text: r.input, rounds: 0, usage: [] })),
 * });
 * const done = pipeline.run();  // ... later: await pipeline.stop(); await done;
 */
export function kafkaPipeline(options: KafkaPipelineOptions): KafkaPipeline {
  const events = options.events ?? new ConnectorEvents();
  const metrics = emptyMetrics();
  const guarantee = options.guarantee ?? 'at-least-once';
  let outbox: TransactionalOutbox | undefined;
  if (guarantee === 'exactly-once') {
    if (!options.offsetsTarget) {
      throw new KafkaConnectorError(
        'not_transactional',
        'exactly-once mode needs offsetsTarget ({ consumerGroupId } for kafkajs)',
        false,
      );
    }
    outbox = new TransactionalOutbox({
      producer: options.producer,
      offsetsTarget: options.offsetsTarget,
      events,
      metrics,
    });
  }
  const source = kafkaSource({
    consumer: options.consumer,
    topics: options.inputTopics,
    ...(options.fromBeginning === undefined ? {} : { fromBeginning: options.fromBeginning }),
    highWaterMark:
      options.highWaterMark ?? 2 * (options.maxBatchSize ?? 512) * (options.concurrency ?? 4),
    ...(options.lowWaterMark === undefined ? {} : { lowWaterMark: options.lowWaterMark }),
    ...(options.autoCommitInRun === undefined ? {} : { autoCommitInRun: options.autoCommitInRun }),
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.commitIntervalMs === undefined
      ? {}
      : { commitIntervalMs: options.commitIntervalMs }),
    ...(outbox ? { committer: outbox } : {}),
    events,
    metrics,
  });
  const maxBatchSize = options.maxBatchSize ?? 512;

  const handle = async (messages: readonly SourceMessage[]): Promise<void> => {
    const outputs = await outputsFor(messages, options, events, metrics);
    if (outbox) {
      for (let i = 0; i < messages.length; i++) outbox.add(messages[i]!, [outputs[i]!]);
    } else {
      await send(options.producer, outputs);
    }
    for (const message of messages) message.ack();
  };

  let running: Promise<void> | undefined;
  return {
    events,
    metrics,
    run() {
      running ??= new Promise<void>((resolve, reject) => {
        source.batches
          .pipe(
            mergeMap((batch) => from(chunks(batch.messages, maxBatchSize))),
            mergeMap((messages) => defer(() => handle(messages)), options.concurrency ?? 4),
          )
          .subscribe({ complete: resolve, error: reject });
      });
      return running;
    },
    stop: () => source.stop(),
  };
}

/** Per message, its one output record: an answer, or a dead letter with the reason. */
async function outputsFor(
  messages: readonly SourceMessage[],
  options: KafkaPipelineOptions,
  events: ConnectorEvents,
  metrics: ConnectorMetrics,
): Promise<OutputRecord[]> {
  const outputs = new Array<OutputRecord>(messages.length);
  const valid: { index: number; request: WireRequest }[] = [];
  const deadLetter = (index: number, error: unknown, code: string, requestId = '') => {
    const message = messages[index]!;
    const record = errorRecordFor(error, message, 'rmas.v1.Request', code, requestId);
    outputs[index] = {
      topic: options.deadLetterTopic,
      message: deadLetterMessage(record, message.key),
    };
    metrics.deadLetters++;
    metrics.deadLettersByCode[record.code] = (metrics.deadLettersByCode[record.code] ?? 0) + 1;
    events.emit('dead-letter', () => ({
      code: record.code,
      path: record.path,
      message: record.message,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
    }));
  };

  for (let index = 0; index < messages.length; index++) {
    try {
      const request = decodeRequest(messages[index]!.value ?? new Uint8Array(0), options.wire);
      valid.push({ index, request });
    } catch (error) {
      deadLetter(index, error, error instanceof WireError ? error.code : 'internal_error');
    }
  }
  if (valid.length === 0) return outputs;

  let answers: readonly WireAnswer[];
  try {
    const result = options.process(valid.map((v) => v.request));
    answers = await (isObservable(result) ? lastValueFrom(result) : result);
    if (answers.length !== valid.length) {
      throw new Error(`process returned ${answers.length} answers for ${valid.length} requests`);
    }
  } catch (error) {
    for (const { index, request } of valid) {
      deadLetter(index, error, 'processing_failed', request.requestId);
    }
    return outputs;
  }
  for (let i = 0; i < valid.length; i++) {
    outputs[valid[i]!.index] = { topic: options.outputTopic, message: answerMessage(answers[i]!) };
  }
  metrics.answered += valid.length;
  return outputs;
}

async function send(producer: KafkaLikeProducer, records: readonly OutputRecord[]): Promise<void> {
  if (records.length === 0) return;
  const byTopic = new Map<string, KafkaLikeTopicMessages>();
  for (const { topic, message } of records) {
    let group = byTopic.get(topic);
    if (!group) {
      group = { topic, messages: [] };
      byTopic.set(topic, group);
    }
    group.messages.push(message);
  }
  try {
    await producer.sendBatch({ topicMessages: [...byTopic.values()] });
  } catch (error) {
    // Unacknowledged inputs are not committed: a restart redoes them.
    throw new KafkaConnectorError(
      'send_failed',
      `could not write ${records.length} records: ${error instanceof Error ? error.message : String(error)}`,
      true,
      { cause: error },
    );
  }
}

function* chunks<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}
