import { spawn } from 'node:child_process';
import { type Kafka, type KafkaMessage, Partitioners } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTopic, kafkaBrokers, newKafkaClient, uniqueTopic } from '../harness/kafka.ts';

// kcat (librdkafka, a C client) is an independent peer: what kafkajs writes, kcat must read, and
// the other way round, through the same real broker. Keys, values (UTF-8) and headers must survive,
// and with librdkafka's Java-compatible partitioner (murmur2) a key must land on the same partition
// whichever client produced it.

interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kcat(args: string[], input = ''): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(
        new Error(`kcat could not run (is it installed? apt-get install kcat): ${error.message}`),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** One record of `kcat -C -J`: headers come as a flat [name, value, name, value, ...] list. */
interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

const KEYS = Array.from({ length: 30 }, (_, i) => `user-${i}`);

describe('kcat <-> kafkajs interop on the real broker', () => {
  let brokers: string[];
  let kafka: Kafka;
  // Partition each key landed on, per producing client.
  const partitionByKcat = new Map<string, number>();
  const partitionByKafkajs = new Map<string, number>();

  beforeAll(async () => {
    brokers = await kafkaBrokers();
    kafka = newKafkaClient('kcat-interop-spec');
  });

  async function newTopic(prefix: string): Promise<string> {
    const topic = uniqueTopic(prefix);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopic(admin, topic, 3);
    } finally {
      await admin.disconnect();
    }
    return topic;
  }

  it('kafkajs consumes what `kcat -P` produced: keys, UTF-8 values, headers', async () => {
    const topic = await newTopic('kcat-to-kafkajs');
    const lines = KEYS.map((key, i) => `${key}\t${i === 0 ? 'héllo ✓ 日本' : `value-${i}`}`);
    const produced = await kcat(
      [
        '-b',
        brokers.join(','),
        '-t',
        topic,
        '-P',
        '-K',
        '\t',
        '-H',
        'source=kcat',
        '-H',
        'trace-id=abc-123',
        '-X',
        'topic.partitioner=murmur2_random',
      ],
      `${lines.join('\n')}\n`,
    );
    expect(produced.code, produced.stderr).toBe(0);

    const consumer = kafka.consumer({ groupId: uniqueTopic('kcat-to-kafkajs-group') });
    await consumer.connect();
    // By key: counting distinct records, a re-delivery (see kafka-broker.spec.ts) cannot end the wait early.
    const byKey = new Map<string, { partition: number; message: KafkaMessage }>();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${byKey.size} of ${KEYS.length} keys arrived`)),
          30_000,
        );
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              byKey.set(message.key?.toString() ?? '', { partition, message });
              if (byKey.size === KEYS.length) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }

    expect([...byKey.keys()].sort()).toEqual([...KEYS].sort());
    KEYS.forEach((key, i) => {
      const { partition, message } = byKey.get(key)!;
      expect(message.value?.toString('utf8')).toBe(i === 0 ? 'héllo ✓ 日本' : `value-${i}`);
      expect(message.headers?.['source']?.toString()).toBe('kcat');
      expect(message.headers?.['trace-id']?.toString()).toBe('abc-123');
      partitionByKcat.set(key, partition);
    });
  });

  it('`kcat -C -e` reads what kafkajs produced: keys, null keys, UTF-8 values, headers', async () => {
    const topic = await newTopic('kafkajs-to-kcat');
    // Idempotent, so a retried request cannot leave a second copy in the log (see createTopic).
    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          ...KEYS.map((key, i) => ({
            key,
            value: i === 0 ? 'héllo ✓ 日本' : `value-${i}`,
            headers: { source: 'kafkajs', index: String(i) },
          })),
          { key: null, value: 'no key', partition: 1 },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const read = await kcat([
      '-b',
      brokers.join(','),
      '-t',
      topic,
      '-C',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-J',
    ]);
    expect(read.code, read.stderr).toBe(0);
    const records = read.stdout
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => JSON.parse(line) as KcatRecord);
    expect(
      records.map((r) => `${r.partition}/${r.offset} ${r.key}`),
      'records in the topic',
    ).toHaveLength(KEYS.length + 1);

    const unkeyed = records.filter((r) => r.key === null);
    expect(unkeyed).toHaveLength(1);
    expect(unkeyed[0]).toMatchObject({ partition: 1, payload: 'no key' });

    const byKey = new Map(records.filter((r) => r.key !== null).map((r) => [r.key!, r]));
    expect([...byKey.keys()].sort()).toEqual([...KEYS].sort());
    KEYS.forEach((key, i) => {
      const record = byKey.get(key)!;
      expect(record.topic).toBe(topic);
      expect(record.payload).toBe(i === 0 ? 'héllo ✓ 日本' : `value-${i}`);
      expect(record.headers).toEqual(['source', 'kafkajs', 'index', String(i)]);
      partitionByKafkajs.set(key, record.partition);
    });
  });

  it('both clients put a key on the same partition (murmur2, the Java default)', () => {
    // Filled by the two tests above; if either failed, this one fails too rather than pass empty.
    expect(partitionByKcat.size).toBe(KEYS.length);
    expect(partitionByKafkajs.size).toBe(KEYS.length);
    // 30 keys over 3 partitions: a client ignoring the key would not match all of them.
    expect(new Set(partitionByKafkajs.values()).size).toBe(3);
    for (const key of KEYS) expect(partitionByKcat.get(key), key).toBe(partitionByKafkajs.get(key));
  });
});
