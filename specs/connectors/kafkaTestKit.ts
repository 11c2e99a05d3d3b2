/** Helpers for the connector tests that run against the real broker (specs/harness/kafka.ts). */
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { WireAnswer, WireRequest } from '../../connectors/index.ts';
import { createTopic, uniqueTopic } from '../harness/kafka.ts';

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
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
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
