// Distributed mode end to end on the real broker: 10,000 requests through a mixture topology
// whose agents run as four worker processes (two for the summarizer: a stage scaled out in its
// consumer group), answered exactly as the in-process runtime (compile) answers them; bad
// records on the requests topic and on an inbox end in the dead-letter topic, the rest goes on.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Admin, Kafka } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  distributedTopics,
  latentRecord,
  submitRequests,
} from '../../connectors/distributed/index.ts';
import { decodeErrorRecord, encodeRequest } from '../../connectors/index.ts';
import type { TopologyIR } from '../../dsl/index.ts';
import { type Answer, compile, initBackend } from '../../runtime/index.ts';
import { createTopic, kafkaBrokers, newKafkaClient, uniqueTopic } from '../harness/kafka.ts';
import { tinyMixture, tinyQuestions, writeTinyAgents } from './distributed/tinyTopology.ts';
import {
  startWorkerProcess,
  stopWorkers,
  type WorkerProcess,
} from './distributed/workerProcesses.ts';
import { readTopic } from './kafkaTestKit.ts';

const REQUESTS = 10_000;
const LINKS = { seed: 5 };

let kafka: Kafka;
let admin: Admin;
let brokers: string[];
let dir: string;
let ir: TopologyIR;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', strict: true, log: false });
  brokers = await kafkaBrokers();
  kafka = newKafkaClient('distributed-e2e-spec');
  admin = kafka.admin();
  await admin.connect();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmas-distributed-'));
  ir = tinyMixture(`e2e${Date.now().toString(36)}`, writeTinyAgents(dir));
});

afterAll(async () => {
  for (const worker of workers) worker.child.kill('SIGKILL');
  await admin?.disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('answers 10,000 requests on four worker processes exactly as compile() does in process', async () => {
  const prefix = uniqueTopic('e2e');
  const topics = distributedTopics(ir, prefix);
  for (const topic of topics.all) {
    await createTopic(admin, topic, topic === topics.deadLetters ? 1 : 4);
  }
  const began = performance.now();
  // The summarizer runs twice in one group: its inbox's 4 partitions are shared between them.
  for (const agent of ['math', 'code', 'summarizer', 'summarizer']) {
    workers.push(
      startWorkerProcess({
        ir,
        agent,
        brokers,
        topicPrefix: prefix,
        links: LINKS,
        maxBatchSize: 128,
        lingerMs: 20,
        // No fault here: a long session rides out CPU starvation on a busy machine (no rebalances).
        consumerConfig: { sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 100 },
      }),
    );
  }

  // The reference, in this process while the workers start: compile() on the same IR, links and
  // agent folders, greedy decoding.
  const questions = tinyQuestions(REQUESTS, 'q');
  const tensorsBefore = tf.memory().numTensors;
  const reference = await lastValueFrom(
    from(questions.map((q) => ({ ...q, topologyId: ir.name, topologyVersion: 1 }))).pipe(
      compile(ir, {
        links: LINKS,
        batching: { maxBatchSize: 128 },
        queue: { capacity: REQUESTS },
      }),
      toArray(),
    ),
  );
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  const inProcessMs = performance.now() - began;
  await Promise.all(workers.map((worker) => worker.ready));
  const readyMs = performance.now() - began;

  // Bad records, mixed in with the good ones: none may stop a worker or go missing.
  const math = ir.agents.find((a) => a.name === 'math')!;
  const badRequest = encodeRequest({
    requestId: 'bad-topology',
    topologyId: 'nope',
    topologyVersion: 1,
    input: '?',
    metadata: {},
    deadlineUnixMs: 0,
  });
  const wrongWidth = latentRecord({
    topic: topics.inboxes['summarizer']!,
    served: { id: ir.name, version: 1 },
    request: {
      requestId: 'bad-width',
      topologyId: ir.name,
      topologyVersion: 1,
      input: '?',
      metadata: {},
      deadlineUnixMs: 0,
    },
    from: 'math',
    to: 'summarizer',
    edge: 'forward',
    round: 1,
    shape: [math.latentSteps, math.hiddenSize + 1],
    values: new Float32Array(math.latentSteps * (math.hiddenSize + 1)),
    usage: [],
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.sendBatch({
    topicMessages: [
      {
        topic: topics.requests,
        messages: [
          { key: 'bad-bytes', value: Buffer.from([0x0a, 0xff, 0xff]) },
          { key: 'bad-topology', value: Buffer.from(badRequest) },
        ],
      },
      { topic: wrongWidth.topic, messages: [wrongWidth.message] },
    ],
  });
  await producer.disconnect();

  const submitted = performance.now();
  const result = await submitRequests({
    ir,
    kafka,
    topicPrefix: prefix,
    requests: questions,
    timeoutMs: 300_000,
  });
  const distributedMs = performance.now() - submitted;
  const exits = await stopWorkers(workers);
  console.log(
    `distributed e2e: ${REQUESTS} requests; in-process compile ${inProcessMs.toFixed(0)} ms, ` +
      `workers ready after ${readyMs.toFixed(0)} ms, distributed ${distributedMs.toFixed(0)} ms ` +
      `(${((REQUESTS / distributedMs) * 1000).toFixed(0)} req/s), ${result.duplicateAnswers} duplicate answers; ` +
      `batches/requests per worker: ${workers.map((w) => `${w.agent} ${w.stats.batches}/${w.stats.groups}`).join(', ')}; ` +
      `group joins per worker: ${workers.map((w) => w.log.filter((line) => line.includes('source.rebalance')).length).join(', ')}; ` +
      `Kafka sessions restarted: ${workers.map((w) => w.last?.metrics?.['sessionRestarts']).join(', ')}`,
  );
  expect(exits).toEqual([0, 0, 0, 0]);
  expect(result.missing).toEqual([]);
  expect(result.deadLetters).toEqual([]);
  expect(result.answers).toHaveLength(REQUESTS);

  const expected = new Map(reference.map((a) => [a.requestId, a]));
  const withoutTimes = (answer: Pick<Answer, 'text' | 'rounds' | 'usage' | 'error'>) => ({
    text: answer.text,
    rounds: answer.rounds,
    error: answer.error,
    usage: answer.usage.map(({ wallMs: _, ...rest }) => rest),
  });
  const different = result.answers.filter(
    (answer) =>
      JSON.stringify(withoutTimes(answer)) !==
      JSON.stringify(withoutTimes(expected.get(answer.requestId)!)),
  );
  expect(different.slice(0, 3)).toEqual([]);
  // Answers are not all alike: equality is not a coincidence of a constant output.
  expect(new Set(result.answers.map((a) => a.text)).size).toBeGreaterThan(100);
  // Scaled out: both summarizer workers ran stage passes.
  expect(workers.filter((w) => w.agent === 'summarizer').map((w) => w.stats.batches > 0)).toEqual([
    true,
    true,
  ]);

  const deadLetters = (await readTopic(kafka, topics.deadLetters, { readCommitted: true })).map(
    ({ message }) => decodeErrorRecord(message.value!),
  );
  expect(deadLetters.map((d) => [d.code, d.messageType, d.sourceTopic]).sort()).toEqual(
    [
      ['malformed_protobuf', 'rmas.v1.Request', topics.requests],
      ['unknown_topology', 'rmas.v1.Request', topics.requests],
      ['hidden_size_mismatch', 'rmas.v1.LatentState', topics.inboxes['summarizer']],
    ].sort(),
  );
  const wrong = deadLetters.find((d) => d.code === 'hidden_size_mismatch')!;
  expect(Buffer.from(wrong.original).equals(wrongWidth.message.value!)).toBe(true);
  expect(wrong.path).toBe('shape[1]');
}, 480_000);
