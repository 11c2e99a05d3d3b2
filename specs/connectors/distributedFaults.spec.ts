// Distributed mode under faults, on real brokers with workers as real processes: a worker killed
// with SIGKILL mid-run (at-least-once, and exactly-once with Kafka transactions), and the broker
// itself restarted mid-run (its own broker: the shared one cannot be restarted). Every request
// must end answered, with the answer the in-process runtime gives; in exactly-once mode each
// answer, and each hand-off in every agent's inbox, is there exactly once (read_committed).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Kafka } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DistributedTopics,
  distributedTopics,
  type SubmitResult,
  submitRequests,
} from '../../connectors/distributed/index.ts';
import type { DeliveryGuarantee } from '../../connectors/index.ts';
import type { TopologyIR } from '../../dsl/index.ts';
import { type Answer, compile, initBackend } from '../../runtime/index.ts';
import { createTopic, kafkaBrokers, newKafkaClient, uniqueTopic } from '../harness/kafka.ts';
import { KafkaBroker } from '../harness/kafkaBroker.ts';
import { tinyMixture, tinyQuestions, writeTinyAgents } from './distributed/tinyTopology.ts';
import {
  startWorkerProcess,
  stopWorkers,
  type WorkerProcess,
} from './distributed/workerProcesses.ts';
import { readTopic } from './kafkaTestKit.ts';

const REQUESTS = 2_000;
const LINKS = { seed: 9 };
const AGENTS = ['math', 'code', 'summarizer'] as const;

let dir: string;
let ir: TopologyIR;
let reference: Map<string, Answer>;
const questions = tinyQuestions(REQUESTS, 'f');
const running: WorkerProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', strict: true, log: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmas-distributed-'));
  ir = tinyMixture(`faults${Date.now().toString(36)}`, writeTinyAgents(dir));
  const answers = await lastValueFrom(
    from(questions.map((q) => ({ ...q, topologyId: ir.name, topologyVersion: 1 }))).pipe(
      compile(ir, { links: LINKS, batching: { maxBatchSize: 128 }, queue: { capacity: REQUESTS } }),
      toArray(),
    ),
  );
  reference = new Map(answers.map((a) => [a.requestId, a]));
});

afterAll(async () => {
  for (const worker of running) worker.child.kill('SIGKILL');
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Deployment {
  prefix: string;
  topics: DistributedTopics;
  workers: Map<string, WorkerProcess>;
  start(agent: string): WorkerProcess;
}

/** Topics and one worker per agent (instance `slot0`: a restart takes over the same slot). */
async function deploy(
  kafka: Kafka,
  brokers: string[],
  guarantee: DeliveryGuarantee,
): Promise<Deployment> {
  const prefix = uniqueTopic(guarantee === 'exactly-once' ? 'eos' : 'alo');
  const topics = distributedTopics(ir, prefix);
  const admin = kafka.admin();
  await admin.connect();
  for (const topic of topics.all)
    await createTopic(admin, topic, topic === topics.deadLetters ? 1 : 4);
  await admin.disconnect();
  const start = (agent: string) => {
    const worker = startWorkerProcess({
      ir,
      agent,
      brokers,
      topicPrefix: prefix,
      links: LINKS,
      guarantee,
      instance: 'slot0',
      maxBatchSize: 64,
      lingerMs: 20,
      consumerConfig: { sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 },
    });
    running.push(worker);
    deployment.workers.set(agent, worker);
    return worker;
  };
  const deployment: Deployment = { prefix, topics, workers: new Map(), start };
  for (const agent of AGENTS) start(agent);
  await Promise.all([...deployment.workers.values()].map((w) => w.ready));
  return deployment;
}

/** Submits the questions; `fault` runs once a third of them are answered. */
async function submitWithFault(
  kafka: Kafka,
  deployment: Deployment,
  fault: () => Promise<void>,
): Promise<{ result: SubmitResult; answeredAtFault: number; faultDone: Promise<void> }> {
  let answered = 0;
  let answeredAtFault = -1;
  let faultDone: Promise<void> = Promise.resolve();
  const result = await submitRequests({
    ir,
    kafka,
    topicPrefix: deployment.prefix,
    requests: questions,
    timeoutMs: 180_000,
    onAnswer: () => {
      answered++;
      if (answeredAtFault < 0 && answered >= REQUESTS / 3) {
        answeredAtFault = answered;
        faultDone = fault();
      }
    },
  });
  return { result, answeredAtFault, faultDone };
}

/** What the workers said last (an error's message, when one failed). */
function lastWords(deployment: Deployment): string {
  return [...deployment.workers.values()]
    .map((w) => `${w.agent}: ${w.last?.event} ${w.last?.message ?? ''}`)
    .join('; ');
}

function expectReferenceAnswers(result: SubmitResult, deployment: Deployment): void {
  if (result.missing.length > 0) {
    // What each worker last reported: where the missing requests are stuck.
    for (const worker of deployment.workers.values()) {
      console.log(`${worker.agent}: ${JSON.stringify(worker.last)}\n  ${worker.log.join('\n  ')}`);
    }
  }
  expect(result.missing).toEqual([]);
  expect(result.deadLetters).toEqual([]);
  expect(result.answers).toHaveLength(REQUESTS);
  const differs = result.answers.filter((a) => {
    const b = reference.get(a.requestId)!;
    return a.text !== b.text || a.rounds !== b.rounds || a.error !== undefined;
  });
  expect(differs.slice(0, 3)).toEqual([]);
}

/**
 * Read_committed: every answer once, and exactly the hand-offs the rounds make, each once. On the
 * wire a request's id is `<requestId>@<submission>`.
 */
async function expectExactlyOnce(
  kafka: Kafka,
  topics: DistributedTopics,
  submission: string | undefined,
): Promise<void> {
  const keysOf = async (topic: string) =>
    (await readTopic(kafka, topic, { readCommitted: true, timeoutMs: 60_000 })).map(({ message }) =>
      message.key!.toString(),
    );
  const once = (keys: string[], times: number) => {
    const counts = new Map<string, number>();
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
    return questions
      .map((q) => `${q.requestId}@${submission}`)
      .filter((id) => counts.get(id) !== times);
  };
  // Per request: one answer; round 2 feedback to each specialist; both specialists, both rounds,
  // to the summarizer.
  expect(once(await keysOf(topics.answers), 1)).toEqual([]);
  expect(once(await keysOf(topics.inboxes['math']!), 1)).toEqual([]);
  expect(once(await keysOf(topics.inboxes['code']!), 1)).toEqual([]);
  expect(once(await keysOf(topics.inboxes['summarizer']!), 4)).toEqual([]);
}

for (const [guarantee, victim] of [
  ['at-least-once', 'math'],
  ['exactly-once', 'summarizer'],
] as const) {
  it(`${guarantee}: a worker (${victim}) killed with SIGKILL mid-run and restarted loses no request`, async () => {
    const brokers = await kafkaBrokers();
    const kafka = newKafkaClient(`distributed-kill-${guarantee}`);
    const began = performance.now();
    const deployment = await deploy(kafka, brokers, guarantee);
    let restartedAfterMs = 0;
    const { result, answeredAtFault, faultDone } = await submitWithFault(
      kafka,
      deployment,
      async () => {
        const killed = performance.now();
        const worker = deployment.workers.get(victim)!;
        worker.child.kill('SIGKILL');
        await worker.exited;
        await deployment.start(victim).ready;
        restartedAfterMs = performance.now() - killed;
      },
    );
    await faultDone;
    const exits = await stopWorkers([...deployment.workers.values()]);
    console.log(
      `${guarantee} SIGKILL of ${victim} after ${answeredAtFault} of ${REQUESTS} answers, back in ` +
        `${restartedAfterMs.toFixed(0)} ms; ${result.duplicateAnswers} duplicate answers; ` +
        `${(performance.now() - began).toFixed(0)} ms in all`,
    );
    expect(answeredAtFault).toBeGreaterThan(0);
    expect(answeredAtFault).toBeLessThan(REQUESTS);
    expect(exits, lastWords(deployment)).toEqual([0, 0, 0]);
    expectReferenceAnswers(result, deployment);
    if (guarantee === 'exactly-once') {
      expect(result.duplicateAnswers).toBe(0);
      await expectExactlyOnce(kafka, deployment.topics, result.submission);
    }
  }, 240_000);
}

describe('a broker restart mid-run (a broker of its own)', () => {
  let broker: KafkaBroker | undefined;
  afterAll(async () => {
    await broker?.destroy();
  });

  for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
    it(`${guarantee}: loses no request${guarantee === 'exactly-once' ? ' and duplicates none' : ''}`, async () => {
      const began = performance.now();
      broker ??= await KafkaBroker.start();
      const kafka = newKafkaClient(`distributed-broker-restart-${guarantee}`, {
        brokers: broker.brokers,
        retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 60 },
      });
      const deployment = await deploy(kafka, broker.brokers, guarantee);
      let downMs = 0;
      const { result, answeredAtFault, faultDone } = await submitWithFault(
        kafka,
        deployment,
        async () => {
          const stopped = performance.now();
          await broker!.restart();
          downMs = performance.now() - stopped;
        },
      );
      await faultDone;
      const exits = await stopWorkers([...deployment.workers.values()]);
      console.log(
        `${guarantee}: broker restart after ${answeredAtFault} of ${REQUESTS} answers, down ` +
          `${downMs.toFixed(0)} ms; ${result.duplicateAnswers} duplicate answers; Kafka sessions ` +
          `restarted per worker: ${[...deployment.workers.values()].map((w) => `${w.agent} ${w.last?.metrics?.['sessionRestarts']} (${(w.last?.metrics?.['source'] as { alreadyCommitted?: number } | undefined)?.alreadyCommitted} committed records read again)`).join(', ')}; ` +
          `${(performance.now() - began).toFixed(0)} ms in all`,
      );
      expect(answeredAtFault).toBeLessThan(REQUESTS);
      expect(exits, lastWords(deployment)).toEqual([0, 0, 0]);
      expectReferenceAnswers(result, deployment);
      if (guarantee === 'exactly-once') {
        expect(result.duplicateAnswers).toBe(0);
        await expectExactlyOnce(kafka, deployment.topics, result.submission);
      }
    }, 300_000);
  }
});
