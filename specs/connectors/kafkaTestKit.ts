/** Helpers for the connector tests that run against the real broker (specs/harness/kafka.ts). */
import type {
  Admin,
  Consumer,
  ConsumerConfig,
  Kafka,
  KafkaMessage,
  Producer,
  ProducerConfig,
} from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import {
  encodeRequest,
  type KafkaPipeline,
  type KafkaPipelineOptions,
  kafkaPipeline,
  topologyCatalog,
  type WireAnswer,
  type WireRequest,
} from '../../connectors/index.ts';
import { createTopic, kafkaBrokers, newKafkaClient, uniqueTopic } from '../harness/kafka.ts';

/** The one-agent topology the pipeline specs route requests to (answered by `echoAnswer`). */
export const echoCatalog = topologyCatalog([
  { id: 'echo', version: 1, agents: { echo: { hiddenSize: 4 } } },
]);

/**
 * A well-formed request to the echo topology.
 * @example echoRequest('a1').input // 'question a1'
 */
export function echoRequest(id: string, input = `question ${id}`): WireRequest {
  return {
    requestId: id,
    topologyId: 'echo',
    topologyVersion: 1,
    input,
    metadata: {},
    deadlineUnixMs: 0,
  };
}

/** One spec file's connection to the shared broker; read its fields inside tests only. */
export interface KafkaSession {
  readonly kafka: Kafka;
  /** Connected for the whole file. */
  readonly admin: Admin;
  readonly brokers: string[];
  /** Run after all tests of the file (settled together), before the admin disconnects. */
  readonly cleanups: (() => Promise<unknown>)[];
  /** Connects a consumer and a producer together; both disconnect after all tests. */
  connect(consumer: Consumer, producer: Producer): Promise<void>;
  /**
   * Produces `requests` (keyed by request id) to `topic`, `perSend` per produce call so the log
   * holds many record batches, with a producer of its own.
   */
  produceRequests(topic: string, requests: readonly WireRequest[], perSend: number): Promise<void>;
  /** Whether `topics.group` has committed every offset of `topics.input` up to its end. */
  allCommitted(topics: TestTopics): Promise<boolean>;
  /**
   * A pipeline on `topics` (read from the beginning) with a consumer in `topics.group` and a
   * producer of its own, configured by `clients`, connected here and disconnected after all tests.
   */
  pipeline(
    topics: TestTopics,
    clients: { consumer: Omit<ConsumerConfig, 'groupId'>; producer?: ProducerConfig },
    options: Omit<KafkaPipelineOptions, 'consumer' | 'producer' | keyof PipelineTopics>,
  ): Promise<{ pipeline: KafkaPipeline; consumer: Consumer; producer: Producer }>;
}

/**
 * Registers the file's `beforeAll` (broker, client named `clientId`, connected admin) and
 * `afterAll` (every cleanup, then the admin) and returns the session they fill in.
 * @example const session = useKafkaSession('connectors-drain-spec'); // at the top of a spec file
 */
export function useKafkaSession(clientId: string): KafkaSession {
  let kafka: Kafka | undefined;
  let admin: Admin | undefined;
  let brokers: string[] | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    brokers = await kafkaBrokers();
    kafka = newKafkaClient(clientId);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
    await admin?.disconnect();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error(`${clientId}: the Kafka session is used before beforeAll`);
    return value;
  };
  const connect = async (consumer: Consumer, producer: Producer): Promise<void> => {
    await Promise.all([consumer.connect(), producer.connect()]);
    cleanups.push(
      () => consumer.disconnect(),
      () => producer.disconnect(),
    );
  };
  return {
    get kafka() {
      return ready(kafka);
    },
    get admin() {
      return ready(admin);
    },
    get brokers() {
      return ready(brokers);
    },
    cleanups,
    connect,
    async produceRequests(topic, requests, perSend) {
      const producer = ready(kafka).producer();
      await producer.connect();
      try {
        for (let start = 0; start < requests.length; start += perSend) {
          await producer.send({
            topic,
            messages: requests.slice(start, start + perSend).map((request) => ({
              key: request.requestId,
              value: Buffer.from(encodeRequest(request)),
            })),
          });
        }
      } finally {
        await producer.disconnect();
      }
    },
    async allCommitted(topics) {
      const [ends, committed] = await Promise.all([
        endOffsets(ready(admin), topics.input),
        committedOffsets(ready(admin), topics.group, topics.input),
      ]);
      return [...ends].every(([partition, end]) => committed.get(partition) === end);
    },
    async pipeline(topics, clients, options) {
      const consumer = ready(kafka).consumer({ groupId: topics.group, ...clients.consumer });
      const producer = ready(kafka).producer(clients.producer);
      await connect(consumer, producer);
      const pipeline = kafkaPipeline({ consumer, producer, ...pipelineTopics(topics), ...options });
      return { pipeline, consumer, producer };
    },
  };
}

export interface PipelineTopics {
  inputTopics: string[];
  outputTopic: string;
  deadLetterTopic: string;
  fromBeginning: true;
}

/**
 * The topic part of `kafkaPipeline` options for `topics`, read from the beginning.
 * @example kafkaPipeline({ consumer, producer, ...pipelineTopics(topics), process })
 */
export function pipelineTopics(topics: TestTopics): PipelineTopics {
  return {
    inputTopics: [topics.input],
    outputTopic: topics.output,
    deadLetterTopic: topics.deadLetters,
    fromBeginning: true,
  };
}

/** The stand-in agent until the runtime exists: answers with the input text, usage by hand. */
export function echoAnswer(request: WireRequest): WireAnswer {
  return {
    requestId: request.requestId,
    topologyId: request.topologyId,
    topologyVersion: request.topologyVersion,
    text: request.input,
    rounds: 1,
    usage: [
      {
        agent: 'echo',
        round: 1,
        promptTokens: request.input.length,
        generatedTokens: request.input.length,
        latentSteps: 0,
        flops: 0,
        wallMs: 0,
      },
    ],
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every 25 ms until it holds, or fails saying what was awaited. A retriable
 * Kafka error (e.g. the group coordinator is still loading) counts as "not yet".
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = async () => {
    try {
      return await condition();
    } catch (error) {
      if ((error as { retriable?: unknown }).retriable === true) return false;
      throw error;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export interface TestTopics {
  input: string;
  output: string;
  deadLetters: string;
  group: string;
}

/** Fresh input (with `partitions`), output and dead-letter topics, and a fresh group id. */
export async function createTestTopics(
  admin: Admin,
  name: string,
  partitions: number,
): Promise<TestTopics> {
  const topics = {
    input: uniqueTopic(`${name}-in`),
    output: uniqueTopic(`${name}-out`),
    deadLetters: uniqueTopic(`${name}-dlq`),
    group: uniqueTopic(`${name}-group`),
  };
  await createTopic(admin, topics.input, partitions);
  await createTopic(admin, topics.output, 2);
  await createTopic(admin, topics.deadLetters, 1);
  return topics;
}

export interface ReadRecord {
  partition: number;
  offset: string;
  message: KafkaMessage;
}

/**
 * Reads a topic from the beginning to its current end with a fresh group. `readCommitted`
 * hides aborted transactions (isolation read_committed).
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  options: { readCommitted: boolean; timeoutMs?: number },
): Promise<ReadRecord[]> {
  const ends = await topicEnds(kafka, topic);
  const remaining = new Map<number, bigint>();
  for (const { partition, high } of ends) {
    if (BigInt(high) > 0n) remaining.set(partition, BigInt(high) - 1n);
  }
  const records: ReadRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({
    groupId: uniqueTopic(`${topic}-reader`),
    readUncommitted: !options.readCommitted,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    // END_BATCH_PROCESS also reports batches that held only markers or aborted records.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const last = remaining.get(payload.partition);
      if (last !== undefined && BigInt(payload.lastOffset) >= last) {
        remaining.delete(payload.partition);
        if (remaining.size === 0) finish();
      }
    });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, offset: message.offset, message });
      },
    });
    const timeoutMs = options.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`reading ${topic}: end not reached in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/**
 * The partitions' ends, asked again while the broker says it is not ready (after a broker
 * restart, the client's metadata can point at a leader that is still loading).
 */
async function topicEnds(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await admin.fetchTopicOffsets(topic);
      } catch (error) {
        if ((error as { retriable?: boolean }).retriable !== true || attempt === 20) throw error;
        await sleep(250);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Committed offsets of `group` on `topic`, by partition (-1 = none). */
export async function committedOffsets(
  admin: Admin,
  group: string,
  topic: string,
): Promise<Map<number, string>> {
  const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map((entry?.partitions ?? []).map(({ partition, offset }) => [partition, offset]));
}

/** End offsets (high watermarks) of `topic`, by partition. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, string>> {
  const ends = await admin.fetchTopicOffsets(topic);
  return new Map(ends.map(({ partition, high }) => [partition, high]));
}

/** How many records there are per key (keys as strings; every record must have one). */
export function countByKey(records: { message: { key: Buffer | null } }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { message } of records) {
    const key = message.key!.toString();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Records before the offsets over all partitions (a partition at -1, none committed, counts 0). */
export function offsetTotal(offsets: Map<number, string>): number {
  return [...offsets.values()].reduce((sum, offset) => sum + Math.max(0, Number(offset)), 0);
}
