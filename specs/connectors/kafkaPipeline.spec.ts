// The Kafka pipeline against the real broker of the test harness (specs/harness/kafka.ts), with
// an echo agent standing in for the runtime.
import type { Consumer, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  decodeAnswer,
  decodeErrorRecord,
  encodeRequest,
  headerNames,
  type KafkaPipelineOptions,
  kafkaPipeline,
  type WireErrorCode,
} from '../../connectors/index.ts';
import {
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

const header = (value: unknown) => (value === undefined ? undefined : String(value));

const session = useKafkaSession('connectors-pipeline-spec');

async function connectedClients(
  group: string,
): Promise<{ consumer: Consumer; producer: Producer }> {
  const consumer = session.kafka.consumer({
    groupId: group,
    sessionTimeout: 6_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  });
  const producer = session.kafka.producer();
  await session.connect(consumer, producer);
  return { consumer, producer };
}

async function produce(
  producer: Producer,
  topic: string,
  values: { key: string; value: Buffer | null }[],
) {
  await producer.send({ topic, messages: values });
}

/** Waits until the group has committed everything on the input topic. */
async function waitForAllCommitted(topics: TestTopics, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    'every input offset to be committed',
    () => session.allCommitted(topics),
    timeoutMs,
  );
}

function basePipelineOptions(
  topics: TestTopics,
  clientsOf: { consumer: Consumer; producer: Producer },
): Omit<KafkaPipelineOptions, 'process'> {
  return {
    ...clientsOf,
    ...pipelineTopics(topics),
    wire: { catalog: echoCatalog, maxMessageBytes: 2_048 },
  };
}

describe('kafkaPipeline (at-least-once) on the real broker', () => {
  it('answers every request and sends every bad input to the dead letters with its reason', async () => {
    const topics = await createTestTopics(session.admin, 'pipeline-basic', 3);
    const setup = await connectedClients(topics.group);
    const valid = Array.from({ length: 200 }, (_, i) => echoRequest(`r${i}`));
    const bad: { key: string; value: Buffer | null; code: WireErrorCode; path: string }[] = [
      { key: 'b0', value: Buffer.from([0x0a, 0x05, 0x01]), code: 'malformed_protobuf', path: '' },
      { key: 'b1', value: Buffer.from([0x0f, 0x01]), code: 'malformed_protobuf', path: '' },
      {
        key: 'b2',
        value: Buffer.from(encodeRequest(echoRequest('v0')).subarray(2)),
        code: 'unsupported_schema_version',
        path: 'schema_version',
      },
      {
        key: 'b3',
        value: Buffer.from(encodeRequest({ ...echoRequest('t'), topologyId: 'poetry' })),
        code: 'unknown_topology',
        path: 'topology_id',
      },
      {
        key: 'b4',
        value: Buffer.from(encodeRequest({ ...echoRequest('v'), topologyVersion: 9 })),
        code: 'unknown_topology_version',
        path: 'topology_version',
      },
      {
        key: 'b5',
        value: Buffer.from(encodeRequest(echoRequest('big', 'x'.repeat(3_000)))),
        code: 'oversize_message',
        path: '',
      },
      { key: 'b6', value: null, code: 'unsupported_schema_version', path: 'schema_version' },
      {
        key: 'b7',
        value: Buffer.from(encodeRequest(echoRequest(''))),
        code: 'missing_field',
        path: 'request_id',
      },
    ];
    await produce(setup.producer, topics.input, [
      ...valid.map((r) => ({ key: r.requestId, value: Buffer.from(encodeRequest(r)) })),
      ...bad.map(({ key, value }) => ({ key, value })),
    ]);

    const pipeline = kafkaPipeline({
      ...basePipelineOptions(topics, setup),
      process: async (requests) => requests.map(echoAnswer),
    });
    const deadLetterEvents: string[] = [];
    pipeline.events.on('dead-letter', (event) => deadLetterEvents.push(event.code));
    const running = pipeline.run();
    await waitForAllCommitted(topics);
    await pipeline.stop();
    await running;

    const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
    expect(answers).toHaveLength(valid.length);
    const byId = new Map(answers.map((record) => [record.message.key!.toString(), record]));
    for (const r of valid) {
      const record = byId.get(r.requestId);
      expect(record, r.requestId).toBeDefined();
      const answer = decodeAnswer(record!.message.value!);
      expect(answer.text).toBe(r.input);
      const headers = record!.message.headers!;
      expect(header(headers[headerNames.rounds])).toBe('1');
      expect(header(headers[headerNames.promptTokens])).toBe(String(r.input.length));
      expect(header(headers[headerNames.generatedTokens])).toBe(String(r.input.length));
      expect(header(headers[headerNames.errorCode])).toBeUndefined();
    }

    const letters = await readTopic(session.kafka, topics.deadLetters, { readCommitted: true });
    expect(letters).toHaveLength(bad.length);
    const inputs = await readTopic(session.kafka, topics.input, { readCommitted: true });
    for (const letter of letters) {
      const record = decodeErrorRecord(letter.message.value!);
      // The dead letter points at the input it came from, and carries its bytes unchanged.
      const source = inputs.find(
        (input) =>
          input.partition === record.sourcePartition && input.offset === record.sourceOffset,
      );
      expect(source, `${record.sourcePartition}/${record.sourceOffset}`).toBeDefined();
      expect(record.sourceTopic).toBe(topics.input);
      const expected = bad.find((b) => b.key === source!.message.key!.toString())!;
      expect([...record.original]).toEqual([...(expected.value ?? [])]);
      expect({ code: record.code, path: record.path }).toEqual({
        code: expected.code,
        path: expected.path,
      });
      expect(record.message).not.toBe('');
      expect(header(letter.message.headers![headerNames.errorCode])).toBe(expected.code);
    }
    expect(deadLetterEvents.sort()).toEqual(bad.map((b) => b.code).sort());
    expect(pipeline.metrics.deadLetters).toBe(bad.length);
    expect(pipeline.metrics.deadLettersByCode['malformed_protobuf']).toBe(2);
    expect(pipeline.metrics.answered).toBe(valid.length);
  });

  it('sends a batch whose processing fails to the dead letters and goes on', async () => {
    const topics = await createTestTopics(session.admin, 'pipeline-failing', 1);
    const setup = await connectedClients(topics.group);
    const inputs = ['a', 'b', 'boom', 'c', 'd'].map((id) => echoRequest(id));
    await produce(
      setup.producer,
      topics.input,
      inputs.map((r) => ({ key: r.requestId, value: Buffer.from(encodeRequest(r)) })),
    );
    const pipeline = kafkaPipeline({
      ...basePipelineOptions(topics, setup),
      maxBatchSize: 1,
      process: async (requests) => {
        if (requests.some((r) => r.requestId === 'boom')) throw new Error('the agent exploded');
        return requests.map(echoAnswer);
      },
    });
    const running = pipeline.run();
    await waitForAllCommitted(topics);
    await pipeline.stop();
    await running;
    const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
    expect(answers.map((a) => a.message.key!.toString()).sort()).toEqual(['a', 'b', 'c', 'd']);
    const letters = await readTopic(session.kafka, topics.deadLetters, { readCommitted: true });
    expect(letters).toHaveLength(1);
    const record = decodeErrorRecord(letters[0]!.message.value!);
    expect(record.code).toBe('processing_failed');
    expect(record.requestId).toBe('boom');
    expect(record.message).toContain('the agent exploded');
    expect(letters[0]!.message.key!.toString()).toBe('boom');
  });

  it('pauses above the high-water mark and resumes below the low one', async () => {
    const topics = await createTestTopics(session.admin, 'pipeline-backpressure', 1);
    const consumer = session.kafka.consumer({
      groupId: topics.group,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 1_024, // small fetches: a few record batches each
    });
    const producer = session.kafka.producer();
    await session.connect(consumer, producer);
    const inputs = Array.from({ length: 300 }, (_, i) => echoRequest(`p${i}`));
    // Ten requests per produce call, so the log holds many small record batches to fetch.
    for (let start = 0; start < inputs.length; start += 10) {
      await produce(
        producer,
        topics.input,
        inputs
          .slice(start, start + 10)
          .map((r) => ({ key: r.requestId, value: Buffer.from(encodeRequest(r)) })),
      );
    }
    const highWaterMark = 60;
    const lowWaterMark = 20;
    const pipeline = kafkaPipeline({
      ...basePipelineOptions(topics, { consumer, producer }),
      highWaterMark,
      lowWaterMark,
      maxBatchSize: 10,
      concurrency: 2,
      process: async (requests) => {
        await sleep(15);
        return requests.map(echoAnswer);
      },
    });
    let maxInFlight = 0;
    let largestBatch = 0;
    const pauses: number[] = [];
    const resumes: number[] = [];
    pipeline.events.on('source.batch', ({ size }) => {
      largestBatch = Math.max(largestBatch, size);
      maxInFlight = Math.max(
        maxInFlight,
        pipeline.metrics.received - pipeline.metrics.acknowledged,
      );
    });
    pipeline.events.on('source.pause', ({ inFlight }) => pauses.push(inFlight));
    pipeline.events.on('source.resume', ({ inFlight }) => resumes.push(inFlight));
    const running = pipeline.run();
    await waitForAllCommitted(topics);
    await pipeline.stop();
    await running;
    console.log(
      `backpressure: ${pauses.length} pauses, max in flight ${maxInFlight}, largest batch ${largestBatch}`,
    );
    expect(pauses.length).toBeGreaterThan(0);
    expect(pauses.every((inFlight) => inFlight >= highWaterMark)).toBe(true);
    expect(resumes.length).toBe(pauses.length);
    expect(resumes.every((inFlight) => inFlight <= lowWaterMark)).toBe(true);
    // A batch is fetched only while below the mark, so at most one batch goes over it.
    expect(maxInFlight).toBeLessThanOrEqual(highWaterMark - 1 + largestBatch);
    expect(pipeline.metrics.answered).toBe(inputs.length);
  });
});
