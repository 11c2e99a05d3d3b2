/**
 * The Kafka pipeline (source -> identity agent -> sink, at-least-once) against a plain kafkajs
 * consume -> produce loop over the same requests, interleaved in one process.
 *
 * Both sides do the same per-message work (decode the rmas.v1.Request, echo it as an Answer,
 * encode it with the same headers), so the ratio measures the connector machinery: batching,
 * ack tracking, commit coalescing, backpressure. Each run drains the same pre-filled topic with a
 * fresh consumer group. Throughput: messages / (last output durable - first fetch). Latency per
 * message: from its batch being handed to the consumer callback to its output being acknowledged
 * by the broker; both sides are timed by the same instrumentation.
 *
 * Broker: KAFKA_BROKERS if set, otherwise the test harness starts a real one (Kafka 3.9, KRaft).
 * Rerun: `npm run bench kafka` (BENCH_KAFKA_MESSAGES, BENCH_KAFKA_REPS to change the size).
 */
import { cpus, loadavg } from 'node:os';
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs';
import {
  answerMessage,
  decodeRequest,
  encodeRequest,
  type KafkaLikeConsumer,
  type KafkaLikeProducer,
  kafkaPipeline,
  type WireAnswer,
  type WireRequest,
} from '../connectors/index.ts';
import { KafkaBroker } from '../specs/harness/kafkaBroker.ts';
import { median, writeBenchReport } from './lib/index.ts';

const MESSAGES = Number(process.env['BENCH_KAFKA_MESSAGES'] ?? 20_000);
const REPS = Number(process.env['BENCH_KAFKA_REPS'] ?? 7);
const WARMUP = 1;
const PARTITIONS = 3;

function echo(request: WireRequest): WireAnswer {
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

/** Per-message timestamps of one run, indexed by request number (keys are `r<i>`). */
class RunClock {
  readonly fetchedAt = new Float64Array(MESSAGES).fill(Number.NaN);
  readonly doneAt = new Float64Array(MESSAGES).fill(Number.NaN);
  private done = 0;
  private firstFetch = Number.POSITIVE_INFINITY;
  private lastDone = 0;
  private finish!: () => void;
  readonly finished = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  fetched(keys: readonly (Buffer | string | null)[]): void {
    const now = performance.now();
    this.firstFetch = Math.min(this.firstFetch, now);
    for (const key of keys) {
      const i = index(key);
      if (Number.isNaN(this.fetchedAt[i]!)) this.fetchedAt[i] = now;
    }
  }

  acknowledged(keys: readonly (Buffer | string | null)[]): void {
    const now = performance.now();
    for (const key of keys) {
      const i = index(key);
      if (!Number.isNaN(this.doneAt[i]!)) continue;
      this.doneAt[i] = now;
      this.lastDone = now;
      if (++this.done === MESSAGES) this.finish();
    }
  }

  summary(): { throughput: number; elapsedMs: number; latenciesMs: Float64Array } {
    const latenciesMs = new Float64Array(MESSAGES);
    for (let i = 0; i < MESSAGES; i++) latenciesMs[i] = this.doneAt[i]! - this.fetchedAt[i]!;
    const elapsedMs = this.lastDone - this.firstFetch;
    return { throughput: (MESSAGES / elapsedMs) * 1000, elapsedMs, latenciesMs };
  }
}

function index(key: Buffer | string | null): number {
  return Number((typeof key === 'string' ? key : key!.toString()).slice(1));
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const brokerFromEnv = process.env['KAFKA_BROKERS'];
const broker = brokerFromEnv ? undefined : await KafkaBroker.start();
const brokers = brokerFromEnv ? brokerFromEnv.split(',') : broker!.brokers;
const kafka = new Kafka({ clientId: 'bench-kafka', brokers, logLevel: logLevel.NOTHING });
const stamp = `${process.pid}-${Date.now().toString(36)}`;
const input = `bench-requests-${stamp}`;
const output = {
  plain: `bench-answers-plain-${stamp}`,
  pipeline: `bench-answers-pipeline-${stamp}`,
};

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [
    { topic: input, numPartitions: PARTITIONS },
    { topic: output.plain, numPartitions: PARTITIONS },
    { topic: output.pipeline, numPartitions: PARTITIONS },
    { topic: `${input}-dlq`, numPartitions: 1 },
  ],
});
const filler = kafka.producer();
await filler.connect();
for (let start = 0; start < MESSAGES; start += 1_000) {
  await filler.send({
    topic: input,
    messages: Array.from({ length: Math.min(1_000, MESSAGES - start) }, (_, j) => {
      const id = `r${start + j}`;
      const request: WireRequest = {
        requestId: id,
        topologyId: 'echo',
        topologyVersion: 1,
        input: `question number ${start + j}`,
        metadata: {},
        deadlineUnixMs: 0,
      };
      return { key: id, value: Buffer.from(encodeRequest(request)) };
    }),
  });
}
await filler.disconnect();

const producers: Record<'plain' | 'pipeline', Producer> = {
  plain: kafka.producer(),
  pipeline: kafka.producer(),
};
await Promise.all(Object.values(producers).map((p) => p.connect()));

let groupNumber = 0;
async function freshConsumer(): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId: `bench-group-${stamp}-${groupNumber++}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  return consumer;
}

/** The plain loop: decode, echo, encode, send, and let kafkajs commit after each batch. */
async function plainRun(): Promise<RunClock> {
  const clock = new RunClock();
  const consumer = await freshConsumer();
  const producer = producers.plain;
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      clock.fetched(batch.messages.map((m) => m.key));
      const messages = batch.messages.map((m) => answerMessage(echo(decodeRequest(m.value!))));
      // One produce request per 512 answers (a whole fetch can exceed the broker's 1 MiB limit).
      const sends: Promise<unknown>[] = [];
      for (let start = 0; start < messages.length; start += 512) {
        const slice = messages.slice(start, start + 512);
        sends.push(
          producer.sendBatch({ topicMessages: [{ topic: output.plain, messages: slice }] }),
        );
      }
      await Promise.all(sends);
      clock.acknowledged(messages.map((m) => m.key));
    },
  });
  await clock.finished;
  await consumer.disconnect();
  return clock;
}

/** The pipeline, through thin structural wrappers that only take timestamps. */
async function pipelineRun(): Promise<RunClock> {
  const clock = new RunClock();
  const consumer = await freshConsumer();
  const producer = producers.pipeline;
  const timedConsumer: KafkaLikeConsumer = {
    subscribe: (s) => consumer.subscribe(s),
    pause: (t) => consumer.pause(t),
    resume: (t) => consumer.resume(t),
    commitOffsets: (o) => consumer.commitOffsets(o),
    stop: () => consumer.stop(),
    run: (config) =>
      consumer.run({
        ...config,
        eachBatch: (payload) => {
          clock.fetched(payload.batch.messages.map((m) => m.key));
          return config.eachBatch(payload);
        },
      }),
  };
  const timedProducer: KafkaLikeProducer = {
    sendBatch: async (batch) => {
      const result = await producer.sendBatch(batch);
      for (const group of batch.topicMessages) clock.acknowledged(group.messages.map((m) => m.key));
      return result;
    },
  };
  const pipeline = kafkaPipeline({
    consumer: timedConsumer,
    producer: timedProducer,
    inputTopics: [input],
    outputTopic: output.pipeline,
    deadLetterTopic: `${input}-dlq`,
    fromBeginning: true,
    process: async (requests) => requests.map(echo),
  });
  const running = pipeline.run();
  await clock.finished;
  await pipeline.stop();
  await running;
  await consumer.disconnect();
  return clock;
}

const runs: Record<'plain' | 'pipeline', ReturnType<RunClock['summary']>[]> = {
  plain: [],
  pipeline: [],
};
for (let round = 0; round < WARMUP + REPS; round++) {
  for (const [name, run] of [
    ['plain', plainRun],
    ['pipeline', pipelineRun],
  ] as const) {
    const summary = (await run()).summary();
    console.log(
      `${round < WARMUP ? 'warmup' : `rep ${round - WARMUP + 1}`} ${name}: ` +
        `${summary.throughput.toFixed(0)} msg/s (${summary.elapsedMs.toFixed(0)} ms)`,
    );
    if (round >= WARMUP) runs[name].push(summary);
  }
}

await Promise.all(Object.values(producers).map((p) => p.disconnect()));
await admin
  .deleteTopics({
    topics: [input, output.plain, output.pipeline, `${input}-dlq`],
  })
  .catch(() => undefined);
await admin.disconnect();
await broker?.destroy();

function sideResults(summaries: ReturnType<RunClock['summary']>[]) {
  const all = new Float64Array(summaries.length * MESSAGES);
  summaries.forEach((s, i) => {
    all.set(s.latenciesMs, i * MESSAGES);
  });
  all.sort();
  return {
    throughputPerRep: summaries.map((s) => Math.round(s.throughput)),
    medianThroughput: median(summaries.map((s) => s.throughput)),
    latencyP50Ms: percentile(all, 50),
    latencyP99Ms: percentile(all, 99),
  };
}

const plain = sideResults(runs.plain);
const pipeline = sideResults(runs.pipeline);
const ratio = pipeline.medianThroughput / plain.medianThroughput;
// Each pipeline run against the plain run just before it: robust to drift on a shared machine.
const pairedRatios = runs.pipeline.map((run, i) => run.throughput / runs.plain[i]!.throughput);
writeBenchReport({
  benchmark: 'kafka',
  command: 'npm run bench kafka',
  backend: 'none (Kafka I/O and protobuf only, no tensors)',
  results: {
    messages: MESSAGES,
    partitions: PARTITIONS,
    reps: REPS,
    broker: broker ? `Apache Kafka ${broker.version} (KRaft, 127.0.0.1)` : brokerFromEnv,
    plain,
    pipeline,
    throughputRatio: ratio,
    pairedRatioMedian: median(pairedRatios),
    loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
  },
  table: {
    headers: ['side', 'median msg/s', 'p50 latency ms', 'p99 latency ms', 'msg/s per rep'],
    rows: [
      [
        'plain kafkajs loop',
        plain.medianThroughput,
        plain.latencyP50Ms,
        plain.latencyP99Ms,
        plain.throughputPerRep.join(', '),
      ],
      [
        'rmas pipeline (at-least-once)',
        pipeline.medianThroughput,
        pipeline.latencyP50Ms,
        pipeline.latencyP99Ms,
        pipeline.throughputPerRep.join(', '),
      ],
    ],
  },
  notes: [
    `${MESSAGES} requests on ${PARTITIONS} partitions, drained ${REPS} times per side (after ${WARMUP} warmup run each), sides interleaved, a fresh consumer group per run.`,
    'Both sides decode each rmas.v1.Request, echo it as an Answer and encode it with the same headers; the plain loop sends each fetched batch as parallel produce requests of 512 answers and lets kafkajs commit after each batch, the pipeline runs with its defaults (batches of up to 512, 4 in flight, commits coalesced after acknowledgement).',
    'Latency is per message, from its batch reaching the consumer callback to its answer being acknowledged by the broker; on a drained backlog it includes time queued inside the process.',
    `Median of the per-rep ratios (each pipeline run over the plain run before it): ${median(pairedRatios).toFixed(3)}. Load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(
        ', ',
      )} on ${cpus().length} cores; other work shares this machine, so single reps vary widely.`,
  ],
  targets: [{ name: 'pipeline / plain loop throughput', value: ratio, op: '>=', target: 0.8 }],
});
