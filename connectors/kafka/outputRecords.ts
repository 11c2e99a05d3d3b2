/**
 * How answers and dead letters look on their topics: keyed by request id, with headers that let
 * consumers route and meter without decoding the protobuf body.
 */
import {
  encodeAnswer,
  encodeErrorRecord,
  type WireAnswer,
  WireError,
  type WireErrorRecord,
} from '../wire/index.ts';
import type { KafkaLikeOutgoingMessage } from './kafkaLike.ts';
import type { SourceMessage } from './kafkaSource.ts';

/** Header names written on answers and dead letters. Values are decimal strings. */
export const headerNames = {
  schemaVersion: 'rmas-schema-version',
  /** Recursion rounds run. */
  rounds: 'rmas-rounds',
  /** Usage totals over every agent and round. */
  promptTokens: 'rmas-prompt-tokens',
  generatedTokens: 'rmas-generated-tokens',
  latentSteps: 'rmas-latent-steps',
  flops: 'rmas-flops',
  wallMs: 'rmas-wall-ms',
  /** On answers with an error, and on dead letters. */
  errorCode: 'rmas-error-code',
  /** On dead letters: where the input was read, `topic/partition/offset`. */
  source: 'rmas-source',
} as const;

/** A record bound for a topic. */
export interface OutputRecord {
  topic: string;
  message: KafkaLikeOutgoingMessage;
}

/**
 * The Kafka record of an answer: key = request id, value = rmas.v1.Answer, usage totals in headers.
 *
 * @example producer.send({ topic: 'answers', messages: [answerMessage(answer)] })
 */
export function answerMessage(answer: WireAnswer): KafkaLikeOutgoingMessage {
  let promptTokens = 0;
  let generatedTokens = 0;
  let latentSteps = 0;
  let flops = 0;
  let wallMs = 0;
  for (const row of answer.usage) {
    promptTokens += row.promptTokens;
    generatedTokens += row.generatedTokens;
    latentSteps += row.latentSteps;
    flops += row.flops;
    wallMs += row.wallMs;
  }
  const headers: Record<string, string> = {
    [headerNames.schemaVersion]: '1',
    [headerNames.rounds]: String(answer.rounds),
    [headerNames.promptTokens]: String(promptTokens),
    [headerNames.generatedTokens]: String(generatedTokens),
    [headerNames.latentSteps]: String(latentSteps),
    [headerNames.flops]: String(flops),
    [headerNames.wallMs]: String(wallMs),
  };
  if (answer.error) headers[headerNames.errorCode] = answer.error.code;
  return { key: answer.requestId, value: asBuffer(encodeAnswer(answer)), headers };
}

/**
 * The dead-letter record for an input that could not be used: the reason, where it was read,
 * and its original bytes. `error` is usually a `WireError`; anything else gets `code`.
 *
 * @example errorRecordFor(error, message, 'rmas.v1.Request', 'processing_failed')
 */
export function errorRecordFor(
  error: unknown,
  message: SourceMessage,
  messageType: string,
  code = 'internal_error',
  requestId = '',
): WireErrorRecord {
  const wire = error instanceof WireError ? error : undefined;
  return {
    code: wire?.code ?? code,
    message: error instanceof Error ? error.message : String(error),
    path: wire?.path ?? '',
    original: message.value ?? new Uint8Array(0),
    messageType: wire?.messageType ?? messageType,
    sourceTopic: message.topic,
    sourcePartition: message.partition,
    sourceOffset: message.offset,
    requestId,
    occurredUnixMs: Date.now(),
  };
}

/**
 * The Kafka record of a dead letter: key = the request id when known, else the input's own key.
 *
 * @example producer.send({ topic: 'requests.dlq', messages: [deadLetterMessage(record, message.key)] })
 */
export function deadLetterMessage(
  record: WireErrorRecord,
  originalKey: Buffer | null,
): KafkaLikeOutgoingMessage {
  return {
    key: record.requestId !== '' ? record.requestId : originalKey,
    value: asBuffer(encodeErrorRecord(record)),
    headers: {
      [headerNames.schemaVersion]: '1',
      [headerNames.errorCode]: record.code,
      [headerNames.source]: `${record.sourceTopic}/${record.sourcePartition}/${record.sourceOffset}`,
    },
  };
}

/** protobufjs already returns a Buffer under Node: wrap, never copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
