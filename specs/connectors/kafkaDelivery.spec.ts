// Delivery guarantees on the real broker: at-least-once across an abrupt consumer stop, and
// exactly-once across a SIGKILL of a worker process (read_committed output holds each answer once).
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAnswer, KafkaConnectorError } from '../../connectors/index.ts';
import {
  committedOffsets,
  countByKey,
  createTestTopics,
  echoAnswer,
  echoCatalog,
  echoRequest,
  endOffsets,
  offsetTotal,
  readTopic,
  sleep,
  type TestTopics,
  useKafkaSession,
  waitUntil,
} from './kafkaTestKit.ts';

const session = useKafkaSession('connectors-delivery-spec');

describe('at-least-once', () => {
  it('loses nothing when a consumer stops abruptly mid-stream and another takes over', async () => {
    const topics = await createTestTopics(session.admin, 'alo-restart', 3);
    const ids = Array.from({ length: 1_500 }, (_, i) => `a${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id)),
      50,
    );
    const seed = 81_041;
    console.log(`at-least-once restart seed ${seed}`);
    const delays = fc.sample(fc.integer({ min: 0, max: 12 }), { seed, numRuns: 10_000 });
    let call = 0;
    const makePipeline = () =>
      session.pipeline(
        topics,
        {
          consumer: {
            sessionTimeout: 6_000,
            heartbeatInterval: 500,
            maxWaitTimeInMs: 100,
            maxBytesPerPartition: 2_048,
          },
        },
        {
          wire: { catalog: echoCatalog },
          maxBatchSize: 7,
          concurrency: 6, // batches finish out of order: the tracker must hold commits back
          highWaterMark: 120,
          process: async (requests) => {
            await sleep(delays[call++ % delays.length]!);
            return requests.map(echoAnswer);
          },
        },
      );

    const first = await makePipeline();
    const firstRun = first.pipeline.run().catch((error: unknown) => error);
    await waitUntil(
      'some answers from the first consumer',
      () => first.pipeline.metrics.answered >= 400,
    );
    // Abrupt: no drain, no final commit. In-flight work is simply abandoned.
    await first.consumer.disconnect();
    const committedAtCrash = await committedOffsets(session.admin, topics.group, topics.input);
    await first.producer.disconnect();
    void firstRun;
    const ends = await endOffsets(session.admin, topics.input);
    const committedTotal = offsetTotal(committedAtCrash);
    console.log(
      `first consumer answered ${first.pipeline.metrics.answered}, committed ${committedTotal} of ${ids.length}`,
    );
    // The crash landed mid-stream: some progress committed, not all.
    expect(committedTotal).toBeGreaterThan(0);
    expect(committedTotal).toBeLessThan(ids.length);
    expect([...ends.keys()].length).toBe(3);

    const second = await makePipeline();
    const secondRun = second.pipeline.run();
    await waitUntil('every input committed', () => session.allCommitted(topics));
    await second.pipeline.stop();
    await secondRun;

    const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
    const counts = countByKey(answers);
    const missing = ids.filter((id) => !counts.has(id));
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    console.log(`at-least-once: ${answers.length} answers, ${duplicates} answered twice`);
    expect(missing).toEqual([]);
    for (const record of answers) {
      expect(decodeAnswer(record.message.value!).text).toBe(
        `question ${record.message.key!.toString()}`,
      );
    }
  });
});

const workerPath = fileURLToPath(new URL('./fixtures/pipelineWorker.ts', import.meta.url));

interface Worker {
  child: ChildProcess;
  transactions: number;
  committedRecords: number;
  /** Resolves at the next transaction whose records are sent but not yet committed. */
  nextOpenTransaction(): Promise<void>;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

function startWorker(
  topics: TestTopics,
  transactionalId: string,
  delayMs: number,
  stallCommitMs: number,
): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', workerPath], {
    env: {
      ...process.env,
      KAFKA_BROKERS: session.brokers.join(','),
      INPUT: topics.input,
      OUTPUT: topics.output,
      DLQ: topics.deadLetters,
      GROUP: topics.group,
      GUARANTEE: 'exactly-once',
      TRANSACTIONAL_ID: transactionalId,
      DELAY_MS: String(delayMs),
      MAX_BATCH: '10',
      STALL_COMMIT_MS: String(stallCommitMs),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  session.cleanups.push(async () => child.kill('SIGKILL'));
  let markReady!: () => void;
  const openWaiters: (() => void)[] = [];
  const worker: Worker = {
    child,
    transactions: 0,
    committedRecords: 0,
    nextOpenTransaction: () => new Promise((resolve) => openWaiters.push(resolve)),
    ready: new Promise((resolve) => {
      markReady = resolve;
    }),
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as { event: string; records?: number };
    if (event.event === 'ready') markReady();
    if (event.event === 'txn-open') for (const wake of openWaiters.splice(0)) wake();
    if (event.event === 'txn') {
      worker.transactions++;
      worker.committedRecords += event.records ?? 0;
    }
  });
  return worker;
}

describe('exactly-once', () => {
  it('holds every answer once in read_committed output after a worker is killed (SIGKILL) and restarted', async () => {
    const topics = await createTestTopics(session.admin, 'eos-kill', 3);
    const ids = Array.from({ length: 1_200 }, (_, i) => `e${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id)),
      50,
    );
    const transactionalId = `${topics.group}-worker`;

    // Slow (40 ms per batch of 10, each transaction held open 300 ms after its records are
    // sent), and killed inside an open transaction: its records are in the log, uncommitted.
    const first = startWorker(topics, transactionalId, 40, 300);
    await waitUntil(
      'the first worker to commit some transactions',
      () => first.committedRecords >= 300,
      30_000,
    );
    await first.nextOpenTransaction();
    first.child.kill('SIGKILL');
    await first.exited;
    const committedAtKill = first.committedRecords;

    // The restarted worker fences the dead one's transactional id (aborting its open
    // transaction) and resumes the group from the offsets committed inside transactions.
    const second = startWorker(topics, transactionalId, 0, 0);
    await second.ready;
    await waitUntil('every input committed', () => session.allCommitted(topics), 40_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const committed = await readTopic(session.kafka, topics.output, { readCommitted: true });
    const counts = countByKey(committed);
    const missing = ids.filter((id) => !counts.has(id));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    const uncommitted = await readTopic(session.kafka, topics.output, { readCommitted: false });
    console.log(
      `exactly-once: first worker committed ${committedAtKill} answers before SIGKILL; ` +
        `output holds ${uncommitted.length} records read_uncommitted, ${committed.length} read_committed`,
    );
    expect(committedAtKill).toBeLessThan(ids.length);
    // The killed transaction's records reached the log: read_uncommitted sees them twice.
    expect(uncommitted.length).toBeGreaterThan(ids.length);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(committed).toHaveLength(ids.length);
  }, 90_000);

  it('fences a zombie: the old instance cannot commit once a new one holds its transactional id', async () => {
    const topics = await createTestTopics(session.admin, 'eos-zombie', 1);
    const ids = Array.from({ length: 200 }, (_, i) => `z${i}`);
    await session.produceRequests(
      topics.input,
      ids.map((id) => echoRequest(id)),
      50,
    );
    const transactionalId = `${topics.group}-worker`;
    const makePipeline = (gate: () => Promise<void>) =>
      session.pipeline(
        topics,
        {
          consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 },
          producer: { transactionalId, idempotent: true, maxInFlightRequests: 1 },
        },
        {
          guarantee: 'exactly-once',
          offsetsTarget: { consumerGroupId: topics.group },
          wire: { catalog: echoCatalog },
          maxBatchSize: 20,
          process: async (requests) => {
            await gate();
            return requests.map(echoAnswer);
          },
        },
      );

    // The zombie processes its first batches, then stalls (a long GC pause, a network partition).
    let zombieBatches = 0;
    let releaseZombie!: () => void;
    const zombieStalled = new Promise<void>((resolve) => {
      releaseZombie = resolve;
    });
    const zombie = await makePipeline(async () => {
      if (++zombieBatches > 3) await zombieStalled;
    });
    const zombieRun = zombie.pipeline.run().catch((error: unknown) => error);
    await waitUntil(
      'the zombie to commit a transaction',
      () => zombie.pipeline.metrics.transactions > 0,
    );
    await waitUntil('the zombie to stall', () => zombieBatches > 3);
    // The zombie leaves the group (its session would expire anyway) but keeps its producer.
    await zombie.consumer.disconnect();

    const successor = await makePipeline(async () => undefined);
    const successorRun = successor.pipeline.run();
    await waitUntil('every input committed', () => session.allCommitted(topics));
    // The zombie wakes up and tries to commit what it still holds: it must be refused.
    releaseZombie();
    const zombieError = await zombieRun;
    expect(zombieError).toBeInstanceOf(KafkaConnectorError);
    expect((zombieError as KafkaConnectorError).code).toBe('producer_fenced');
    await successor.pipeline.stop();
    await successorRun;

    const committed = await readTopic(session.kafka, topics.output, { readCommitted: true });
    const counts = countByKey(committed);
    expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(committed).toHaveLength(ids.length);
  });
});
