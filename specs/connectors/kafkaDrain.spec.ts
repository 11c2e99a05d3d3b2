// Draining on the real broker: a graceful stop and a rebalance both finish and commit the work
// in flight before letting go of the partitions, so the next owner starts right after it.
import type { Consumer, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { KafkaPipeline } from '../../connectors/index.ts';
import {
  committedOffsets,
  countByKey,
  createTestTopics,
  echoAnswer,
  echoRequest,
  offsetTotal,
  readTopic,
  sleep,
  type TestTopics,
  useKafkaSession,
  waitUntil,
} from './kafkaTestKit.ts';

const session = useKafkaSession('connectors-drain-spec');

function slowPipeline(
  topics: TestTopics,
  delayMs: number,
): Promise<{ pipeline: KafkaPipeline; consumer: Consumer; producer: Producer }> {
  return session.pipeline(
    topics,
    {
      consumer: {
        sessionTimeout: 6_000,
        heartbeatInterval: 100,
        maxWaitTimeInMs: 100,
        maxBytesPerPartition: 1_024,
      },
    },
    {
      maxBatchSize: 5,
      concurrency: 2,
      highWaterMark: 40,
      process: async (requests) => {
        await sleep(delayMs);
        return requests.map(echoAnswer);
      },
    },
  );
}

describe('draining', () => {
  it('stop() finishes and commits everything it handed out, and nothing more', async () => {
    const topics = await createTestTopics(session.admin, 'drain-stop', 2);
    const ids = Array.from({ length: 400 }, (_, i) => `s${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id, id)),
      20,
    );
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
    const committed = offsetTotal(
      await committedOffsets(session.admin, topics.group, topics.input),
    );
    expect(committed).toBe(pipeline.metrics.received);
    expect(committed).toBeLessThan(ids.length);
    const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
    expect(answers).toHaveLength(committed);
  });

  it('a rebalance drains the in-flight work and the next owner starts right after it', async () => {
    const topics = await createTestTopics(session.admin, 'drain-rebalance', 2);
    const ids = Array.from({ length: 300 }, (_, i) => `b${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id, id)),
      20,
    );
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
    await waitUntil('every input committed', () => session.allCommitted(topics));
    await Promise.all([first.pipeline.stop(), second.pipeline.stop()]);
    await Promise.all([firstRun, secondRun]);

    const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
    const counts = countByKey(answers);
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
