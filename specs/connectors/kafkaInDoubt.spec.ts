// What keeps exactly-once exact when Kafka answers late or not at all, on the real broker:
// a commit whose response is lost is never retried by the same producer; a new instance settles
// what an earlier one left open before its group hands out offsets; and a position older than
// what this source committed (a rejoin can be handed one) is not processed again.
import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  KafkaConnectorError,
  type KafkaLikeProducer,
  type KafkaPipelineOptions,
  kafkaPipeline,
} from '../../connectors/index.ts';
import {
  countByKey,
  createTestTopics,
  echoAnswer,
  echoCatalog,
  echoRequest,
  pipelineTopics,
  readTopic,
  sleep,
  type TestTopics,
  useKafkaSession,
  waitUntil,
} from './kafkaTestKit.ts';

const session = useKafkaSession('connectors-in-doubt-spec');
const CONSUMER = { sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };

/** A pipeline on `topics` with its own consumer in the group and the given producer. */
async function pipelineWith(
  topics: TestTopics,
  producer: Producer,
  options: Partial<KafkaPipelineOptions> & { wrap?: (p: Producer) => KafkaLikeProducer },
) {
  const consumer = session.kafka.consumer({ groupId: topics.group, ...CONSUMER });
  await session.connect(consumer, producer);
  const { wrap, ...rest } = options;
  const pipeline = kafkaPipeline({
    consumer,
    producer: wrap ? wrap(producer) : producer,
    ...pipelineTopics(topics),
    wire: { catalog: echoCatalog },
    maxBatchSize: 10,
    process: async (requests) => requests.map(echoAnswer),
    ...rest,
  });
  return { pipeline, consumer };
}

function transactionalProducer(transactionalId: string): Producer {
  return session.kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
}

describe('exactly-once when the broker answers late or not at all', () => {
  it('does not retry a commit whose response was lost: the run stops in doubt, the next run writes each answer once', async () => {
    const topics = await createTestTopics(session.admin, 'eos-doubt', 1);
    const ids = Array.from({ length: 600 }, (_, i) => `d${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id)),
      20,
    );
    const transactionalId = `${topics.group}-worker`;
    const exactlyOnce = {
      guarantee: 'exactly-once' as const,
      offsetsTarget: { consumerGroupId: topics.group },
    };
    // The third commit reaches the broker and commits, but the client sees an error: the
    // connection dropped before the EndTxn response.
    let commits = 0;
    const losesThirdResponse = (producer: Producer): KafkaLikeProducer => ({
      sendBatch: (batch) => producer.sendBatch(batch as never),
      transaction: async () => {
        const transaction = await producer.transaction();
        return {
          sendBatch: (batch) => transaction.sendBatch(batch as never),
          sendOffsets: (offsets) => transaction.sendOffsets(offsets as never),
          commit: async () => {
            await transaction.commit();
            if (++commits === 3) throw new Error('connection closed before the EndTxn response');
          },
          abort: () => transaction.abort(),
        };
      },
    });
    // Slow batches: many small transactions.
    const first = await pipelineWith(topics, transactionalProducer(transactionalId), {
      ...exactlyOnce,
      wrap: losesThirdResponse,
      process: async (requests) => {
        await sleep(50);
        return requests.map(echoAnswer);
      },
    });
    const firstRun = first.pipeline.run().then(
      () => 'stopped',
      (error: unknown) => error,
    );
    // Without the in-doubt stop, the run would go on and finish the topic.
    const stopped = await Promise.race([
      firstRun,
      waitUntil('every input committed', () => session.allCommitted(topics), 30_000).then(
        () => 'finished every input',
      ),
    ]);
    expect(stopped).toBeInstanceOf(KafkaConnectorError);
    expect((stopped as KafkaConnectorError).code).toBe('transaction_in_doubt');
    expect(commits).toBe(3);
    await first.consumer.disconnect();

    const second = await pipelineWith(topics, transactionalProducer(transactionalId), exactlyOnce);
    const secondRun = second.pipeline.run();
    await waitUntil('every input committed', () => session.allCommitted(topics), 30_000);
    await second.pipeline.stop();
    await secondRun;

    const counts = countByKey(
      await readTopic(session.kafka, topics.output, { readCommitted: true }),
    );
    console.log(
      `in doubt after 3 commits; the second run answered ${second.pipeline.metrics.answered}`,
    );
    expect(second.pipeline.metrics.answered).toBeGreaterThan(0);
    expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([]);
  });

  it('fences an earlier instance before its group hands out offsets, so a transaction it left cannot commit later', async () => {
    const topics = await createTestTopics(session.admin, 'eos-settle', 1);
    const transactionalId = `${topics.group}-worker`;
    // The earlier instance: a transaction with an output and the group's offset, not yet
    // committed (its EndTxn is late).
    const earlier = transactionalProducer(transactionalId);
    await earlier.connect();
    session.cleanups.push(() => earlier.disconnect());
    const open = await earlier.transaction();
    await open.send({ topic: topics.output, messages: [{ key: 'left-over', value: 'x' }] });
    await open.sendOffsets({
      consumerGroupId: topics.group,
      topics: [{ topic: topics.input, partitions: [{ partition: 0, offset: '5' }] }],
    });

    // The new instance has nothing to read, so it never starts a transaction of its own.
    const next = await pipelineWith(topics, transactionalProducer(transactionalId), {
      guarantee: 'exactly-once',
      offsetsTarget: { consumerGroupId: topics.group },
    });
    let joined = false;
    next.consumer.on(next.consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    const run = next.pipeline.run();
    await waitUntil('the new instance to join its group', () => joined, 30_000);

    const late = await open.commit().then(
      () => undefined,
      (error: unknown) => error,
    );
    await next.pipeline.stop();
    await run;
    expect(late, 'the earlier instance committed after the new one had joined').toBeDefined();
    expect(String((late as { type?: string }).type)).toMatch(
      /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH/,
    );
    const output = await readTopic(session.kafka, topics.output, { readCommitted: true });
    expect(output).toEqual([]);
  });

  it('does not process again what it committed when the group hands it an older position', async () => {
    const topics = await createTestTopics(session.admin, 'stale-position', 1);
    const ids = Array.from({ length: 100 }, (_, i) => `s${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id)),
      20,
    );
    const { pipeline, consumer } = await pipelineWith(
      topics,
      session.kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
      {},
    );
    const run = pipeline.run();
    await waitUntil('the first 100 committed', () => session.allCommitted(topics), 30_000);
    // What a rejoin does when the coordinator has not yet applied this member's last commit.
    consumer.seek({ topic: topics.input, partition: 0, offset: '0' });
    const more = Array.from({ length: 10 }, (_, i) => `t${i}`);
    await session.produceRequests(
      topics.input,
      more.map((id) => echoRequest(id)),
      10,
    );
    await waitUntil('the next 10 committed', () => session.allCommitted(topics), 30_000);
    await pipeline.stop();
    await run;

    const counts = countByKey(
      await readTopic(session.kafka, topics.output, { readCommitted: false }),
    );
    console.log(`stale position: ${pipeline.metrics.alreadyCommitted} records read again, dropped`);
    expect([...ids, ...more].filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(pipeline.metrics.alreadyCommitted).toBe(100);
  });
});
