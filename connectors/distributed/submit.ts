/**
 * `submitRequests`: writes requests to a distributed topology's requests topic and collects their
 * answers (and dead letters) from its answers and dead-letter topics, until every request has one
 * or the time is up.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, ConsumerConfig, Kafka, KafkaConfig } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { Topology, TopologyIR } from '../../dsl/index.ts';
import { checkedIR } from '../../runtime/index.ts';
import {
  decodeAnswer,
  decodeErrorRecord,
  encodeRequest,
  type WireAnswer,
  type WireErrorRecord,
  type WireRequest,
} from '../wire/index.ts';
import { DistributedError } from './distributedError.ts';
import { distributedKafka } from './kafkaClient.ts';
import { type DistributedTopics, distributedTopics } from './topics.ts';

/** A question to submit; the id defaults to a random UUID. */
export interface SubmittedRequest {
  requestId?: string;
  input: string;
  metadata?: Record<string, string>;
  /** Unix epoch ms after which the workers answer DEADLINE_EXCEEDED instead; 0 = none. */
  deadlineUnixMs?: number;
}

export interface SubmitRequestsOptions {
  /** The topology the workers run. */
  ir: Topology | TopologyIR;
  requests: readonly SubmittedRequest[];
  brokers?: readonly string[] | string;
  /** A kafkajs client to use instead of one made from `brokers`. */
  kafka?: Kafka;
  /** Default `rmas`, as the workers'. */
  topicPrefix?: string;
  /** Default 1, as the workers'. */
  topologyVersion?: number;
  /**
   * Sends each request as `<requestId>@<submission>`, a fresh random tag by default; `false` sends
   * the ids as given. Workers skip an id they have handled before, taking it for a redelivery, so
   * without a tag a request id submitted again would never be answered. Answers, dead letters
   * and missing ids come back under the ids given.
   */
  submission?: string | false;
  /** Wait for the answers. Default true; false: write the requests and return. */
  wait?: boolean;
  /** Longest wait for the answers, in ms. Default 60 s. */
  timeoutMs?: number;
  /** Called for each request's first answer, as it arrives. */
  onAnswer?: (answer: WireAnswer) => void;
  /** Called for each dead letter about one of the requests. */
  onDeadLetter?: (record: WireErrorRecord) => void;
  kafkaConfig?: Partial<KafkaConfig>;
  consumerConfig?: Partial<ConsumerConfig>;
}

export interface SubmitResult {
  /** The requests as written to Kafka (ids filled in and tagged), in the order given. */
  requests: WireRequest[];
  /** The tag of this submission's ids on the wire, or undefined when they were sent untagged. */
  submission: string | undefined;
  /** The first answer of each answered request, in the order they arrived. */
  answers: WireAnswer[];
  /** Dead letters about the requests (a request may have an answer and dead letters). */
  deadLetters: WireErrorRecord[];
  /** Ids with neither an answer nor a dead letter when the wait ended. */
  missing: string[];
  /** Answers read more than once for the same request (at-least-once redeliveries). */
  duplicateAnswers: number;
  topics: DistributedTopics;
}

/**
 * Submits requests and, unless `wait` is false, collects their answers.
 *
 * @example
 * const { answers, missing } = await submitRequests({ ir, brokers: ['127.0.0.1:9092'], requests: [{ input: 'What is 12 * 7?' }] });
 */
export async function submitRequests(options: SubmitRequestsOptions): Promise<SubmitResult> {
  const ir = checkedIR(options.ir);
  const topics = distributedTopics(ir, options.topicPrefix);
  const submission =
    options.submission === false ? undefined : (options.submission ?? randomUUID().slice(0, 8));
  const given = options.requests.map((r) => r.requestId ?? randomUUID());
  const onWire = (id: string) => (submission === undefined ? id : `${id}@${submission}`);
  /** This submission's ids: on the wire, and as given. */
  const ids = new Map(given.map((id) => [onWire(id), id]));
  if (ids.size !== given.length) {
    throw new DistributedError('invalid_options', 'two requests share a request id');
  }
  const requests: WireRequest[] = options.requests.map((r, i) => ({
    requestId: onWire(given[i]!),
    topologyId: ir.name,
    topologyVersion: options.topologyVersion ?? 1,
    input: r.input,
    metadata: r.metadata ?? {},
    deadlineUnixMs: r.deadlineUnixMs ?? 0,
  }));
  const kafka =
    options.kafka ?? distributedKafka(options.brokers, 'rmas-submit', options.kafkaConfig);
  const result: SubmitResult = {
    requests,
    submission,
    answers: [],
    deadLetters: [],
    missing: [],
    duplicateAnswers: 0,
    topics,
  };
  const wait = options.wait ?? true;
  const collector = wait ? await startCollecting(kafka, topics, ids, result, options) : undefined;
  try {
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      for (let start = 0; start < requests.length; start += 500) {
        await producer.send({
          topic: topics.requests,
          messages: requests.slice(start, start + 500).map((request) => ({
            key: request.requestId,
            value: Buffer.from(encodeRequest(request)),
          })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    if (collector) await collector.finished(options.timeoutMs ?? 60_000);
  } finally {
    await collector?.close();
  }
  const settled = new Set([
    ...result.answers.map((a) => a.requestId),
    ...result.deadLetters.map((d) => d.requestId),
  ]);
  result.missing = wait ? given.filter((id) => !settled.has(id)) : [];
  return result;
}

interface Collector {
  /** Resolves when every id has an answer or a dead letter, or after `timeoutMs`. */
  finished(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads the answers and dead-letter topics from their current ends (recorded before anything is
 * submitted, so no answer can slip past), keeping what concerns `ids`.
 */
async function startCollecting(
  kafka: Kafka,
  topics: DistributedTopics,
  /** Wire id -> the id given. */
  ids: ReadonlyMap<string, string>,
  result: SubmitResult,
  options: SubmitRequestsOptions,
): Promise<Collector> {
  const admin = kafka.admin();
  await admin.connect();
  const starts = new Map<string, bigint>();
  try {
    for (const topic of [topics.answers, topics.deadLetters]) {
      for (const { partition, offset } of await admin.fetchTopicOffsets(topic)) {
        starts.set(`${topic}/${partition}`, BigInt(offset));
      }
    }
  } finally {
    await admin.disconnect();
  }
  // Where to read next, per partition: the recorded ends at first, then past what was read.
  const positions = new Map(starts);
  const answered = new Set<string>();
  const settled = new Set<string>();
  let wake: (() => void) | undefined;
  const settle = (id: string) => {
    settled.add(id);
    if (settled.size === ids.size) wake?.();
  };
  const read = (
    topic: string,
    message: { offset: string; key: Buffer | null; value: Buffer | null },
  ) => {
    if (message.value === null) return;
    if (topic === topics.answers) {
      const answer = safely(() => decodeAnswer(message.value!));
      if (answer === undefined || !ids.has(answer.requestId)) return;
      if (answered.has(answer.requestId)) {
        result.duplicateAnswers++;
        return;
      }
      answered.add(answer.requestId);
      const named = { ...answer, requestId: ids.get(answer.requestId)! };
      result.answers.push(named);
      options.onAnswer?.(named);
      settle(answer.requestId);
    } else {
      const record = safely(() => decodeErrorRecord(message.value!));
      const id = record?.requestId || message.key?.toString() || '';
      if (record === undefined || !ids.has(id)) return;
      const named = { ...record, requestId: ids.get(id)! };
      result.deadLetters.push(named);
      options.onDeadLetter?.(named);
      settle(id);
    }
  };

  let closed = false;
  let consumer: Consumer | undefined;
  /** A consumer from `positions` on; replaced if kafkajs gives up on it (the broker was away). */
  const connect = async (): Promise<void> => {
    const fresh = kafka.consumer({
      groupId: `rmas-submit-${randomUUID()}`,
      maxWaitTimeInMs: 250,
      ...options.consumerConfig,
    });
    consumer = fresh;
    fresh.on(fresh.events.CRASH, ({ payload }) => {
      if (payload.restart || closed) return;
      void fresh.disconnect().catch(() => undefined);
      setTimeout(() => void connect().catch(() => undefined), 1_000);
    });
    await fresh.connect();
    await fresh.subscribe({ topics: [topics.answers, topics.deadLetters], fromBeginning: true });
    await fresh.run({
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}/${batch.partition}`;
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset < (positions.get(key) ?? 0n)) continue;
          positions.set(key, offset + 1n);
          read(batch.topic, message);
        }
      },
    });
    // Start exactly where reading stopped (a fresh group would read from the beginning).
    for (const [key, offset] of positions) {
      const at = key.lastIndexOf('/');
      fresh.seek({
        topic: key.slice(0, at),
        partition: Number(key.slice(at + 1)),
        offset: offset.toString(),
      });
    }
  };
  try {
    await connect();
  } catch (error) {
    await consumer?.disconnect();
    throw error;
  }
  return {
    finished: (timeoutMs) =>
      new Promise<void>((resolve) => {
        if (settled.size === ids.size) return resolve();
        const timer = setTimeout(resolve, timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    close: async () => {
      closed = true;
      await consumer?.disconnect();
    },
  };
}

function safely<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}
