// Draining on the real broker: a graceful stop and a rebalance both finish and commit the work
// in flight before letting go of the partitions, so the next owner starts right after it.
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRequest,
  type KafkaPipeline,
  kafkaPipeline,
  type WireRequest,
} from '../../connectors/index.ts';
import { kafkaBrokers, newKafkaClient } from '../harness/kafka.ts';
import {
  committedOffsets,
  createTestTopics,
  echoAnswer,
  endOffsets,
  readTopic,
  sleep,
  type TestTopics,
  waitUntil,
} from './kafkaTestKit.ts';

let kafka: Kafka;
let admin: Admin;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await kafkaBrokers();
  kafka = newKafkaClient('connectors-drain-spec');
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  await admin?.disconnect();
});

function request(id: string): WireRequest {
  return {
    requestId: id,
    topologyId: 'echo',
    topologyVersion: 1,
    input: id,
    metadata: {},
    deadlineUnixMs: 0,
  };
}

async function fill(topic: string, ids: string[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let start = 0; start < ids.length; start += 20) {
    await producer.send({
      topic,
      messages: ids
        .slice(start, start + 20)
        .map((id) => ({ key: id, value: Buffer.from(encodeRequest(request(id))) })),
    });
  }
  await producer.disconnect();
}

async function slowPipeline(
  topics: TestTopics,
  delayMs: number,
): Promise<{ pipeline: KafkaPipeline; consumer: Consumer; producer: Producer }> {
  const consumer = kafka.consumer({
    groupId: topics.group,
    sessionTimeout: 6_000,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: 1_024,
  });
  const producer = kafka.producer();
  await Promise.all([consumer.connect(), producer.connect()]);
  cleanups.push(
    () => consumer.disconnect(),
    () => producer.disconnect(),
  );
  const pipeline = kafkaPipeline({
    consumer,
    producer,
    inputTopics: [topics.input],
    outputTopic: topics.output,
    deadLetterTopic: topics.deadLetters,
    fromBeginning: true,
    maxBatchSize: 5,
    concurrency: 2,
    highWaterMark: 40,
    process: async (requests) => {
      await sleep(delayMs);
      return requests.map(echoAnswer);
    },
  });
  return { pipeline, consumer, producer };
}

function total(offsets: Map<number, string>): number {
  return [...offsets.values()].reduce((sum, offset) => sum + Math.max(0, Number(offset)), 0);
}

describe('draining', () => {
  it('stop() finishes and commits everything it handed out, and nothing more', async () => {
    const topics = await createTestTopics(admin, 'drain-stop', 2);
    const ids = Array.from({ length: 400 }, (_, i) => `s${i}`);
    await fill(topics.input, ids);
    const { pipeline } = await slowPipeline(topics, 20);
    const drains: { reason: string; inFlightLeft: number }[] = [];
    pipeline.events.on('source.drain', (event) => drains.push(event));
    const running = pipeline.run();
    await waitUntil('some answers', () => pipeline.metrics.answered >= 60);
    const inFlightAtStop = pipeline.metrics.received - pipeline.metrics.acknowledged;
    await pipeline.stop();
    await running;

    expect(inFlightAtStop).toBeGreaterThan(0);
    expect(drains).toEqual([{ reason: 'stop', inFlightLeft: 0, durationMs: expect.any(Number) }]);
    expect(pipeline.metrics.acknowledged).toBe(pipeline.metrics.received);
    // Committed = exactly what was received (all of it answered), and not the whole topic.
    const committed = total(await committedOffsets(admin, topics.group, topics.input));
    expect(committed).toBe(pipeline.metrics.received);
    expect(committed).toBeLessThan(ids.length);
    const answers = await readTopic(kafka, topics.output, { readCommitted: true });
    expect(answers).toHaveLength(committed);
  });

  it('a rebalance drains the in-flight work and the next owner starts right after it', async () => {
    const topics = await createTestTopics(admin, 'drain-rebalance', 2);
    const ids = Array.from({ length: 300 }, (_, i) => `b${i}`);
    await fill(topics.input, ids);
    const first = await slowPipeline(topics, 15);
    const drains: { reason: string; inFlightLeft: number }[] = [];
    first.pipeline.events.on('source.drain', (event) => drains.push(event));
    const rebalances: Record<string, number[]>[] = [];
    first.pipeline.events.on('source.rebalance', ({ assignment }) => rebalances.push(assignment));
    const firstRun = first.pipeline.run();
    await waitUntil('the first member to answer some', () => first.pipeline.metrics.answered >= 40);

    // A second member joins: the group rebalances and the partitions are split.
    const second = await slowPipeline(topics, 0);
    const secondRun = second.pipeline.run();
    await waitUntil('every input committed', async () => {
      const [ends, committed] = await Promise.all([
        endOffsets(admin, topics.input),
        committedOffsets(admin, topics.group, topics.input),
      ]);
      return [...ends].every(([partition, end]) => committed.get(partition) === end);
    });
    await Promise.all([first.pipeline.stop(), second.pipeline.stop()]);
    await Promise.all([firstRun, secondRun]);

    const answers = await readTopic(kafka, topics.output, { readCommitted: true });
    const counts = new Map<string, number>();
    for (const { message } of answers) {
      const id = message.key!.toString();
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const twice = [...counts].filter(([, n]) => n > 1).length;
    console.log(
      `rebalance: drains ${JSON.stringify(drains.map((d) => d.reason))}, ` +
        `assignments ${JSON.stringify(rebalances.map((a) => Object.values(a).flat()))}, ` +
        `${twice} answered twice`,
    );
    expect(ids.filter((id) => !counts.has(id))).toEqual([]);
    expect(rebalances.length).toBeGreaterThanOrEqual(2); // the first join, then the split
    expect(drains.filter((d) => d.reason === 'rebalance').length).toBeGreaterThan(0);
    expect(drains.every((d) => d.inFlightLeft === 0)).toBe(true);
    expect(twice).toBe(0);
  });
});
