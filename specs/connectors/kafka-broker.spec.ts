import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { ConfigResourceTypes, type Consumer, type Kafka, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopic, kafkaBrokers, newKafkaClient, uniqueTopic } from '../harness/kafka.ts';
import { KafkaBroker } from '../harness/kafkaBroker.ts';

// The harness's own integration test: a real Apache Kafka 3.9 broker, driven with kafkajs.

interface Received {
  partition: number;
  message: KafkaMessage;
}

interface Consumed {
  /** Each record once, keyed `partition/offset`, in order of first delivery. */
  records: Map<string, Received>;
  /** eachMessage calls, re-deliveries included. */
  deliveries: number;
  /** Consumer crashes and rebalances seen: the only events after which kafkajs may re-deliver. */
  restarts: number;
}

/**
 * Runs `consumer` (offsets committed by the caller, not automatically) until `count` distinct
 * records arrived, or fails after `timeoutMs` saying how many did. A record delivered again must
 * be identical to its first delivery.
 */
async function consumeCount(
  consumer: Consumer,
  count: number,
  timeoutMs = 30_000,
): Promise<Consumed> {
  const consumed: Consumed = { records: new Map(), deliveries: 0, restarts: 0 };
  const stopListening = [
    consumer.on(consumer.events.CRASH, () => consumed.restarts++),
    consumer.on(consumer.events.REBALANCING, () => consumed.restarts++),
  ];
  let done!: () => void;
  let fail!: (error: Error) => void;
  const all = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      consumed.deliveries++;
      const at = `${partition}/${message.offset}`;
      const first = consumed.records.get(at);
      if (first && first.message.value?.toString() !== message.value?.toString()) {
        fail(new Error(`offset ${at} delivered with two different values`));
      }
      if (!first) consumed.records.set(at, { partition, message });
      if (consumed.records.size >= count) done();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${consumed.records.size} of ${count} records arrived`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
    for (const remove of stopListening) remove();
  }
  return consumed;
}

describe('real Kafka broker (harness)', () => {
  let kafka: Kafka;

  beforeAll(async () => {
    await kafkaBrokers();
    kafka = newKafkaClient('kafka-broker-spec');
  });

  it('is a real Apache Kafka 3.9 broker in KRaft mode', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      // A KRaft cluster id: 16 bytes in base64url, as written by `kafka-storage format`.
      expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);

      const brokerId = String(cluster.brokers[0]!.nodeId);
      const described = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.BROKER, name: brokerId }],
        includeSynonyms: false,
      });
      const entries = described.resources[0]!.configEntries;
      const protocol = entries.find((e) => e.configName === 'inter.broker.protocol.version');
      expect(protocol?.configValue).toMatch(/^3\.9(-|$)/);
      const roles = entries.find((e) => e.configName === 'process.roles');
      expect(roles?.configValue).toContain('broker');
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers 1,000 messages over 3 partitions exactly once and stores the committed offsets', async () => {
    const topic = uniqueTopic('harness-1k');
    const groupId = uniqueTopic('harness-1k-group');
    const total = 1_000;

    const admin = kafka.admin();
    await admin.connect();
    // Idempotent: a retried send cannot write a batch twice, so the log holds each message once.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    try {
      await createTopic(admin, topic, 3);

      await producer.connect();
      for (let start = 0; start < total; start += 100) {
        const messages = [];
        for (let i = start; i < start + 100; i++) {
          messages.push({ key: `key-${i}`, value: `value-${i}`, headers: { seq: String(i) } });
        }
        await producer.send({ topic, acks: -1, messages });
      }

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const consumed = await consumeCount(consumer, total);
      const received = [...consumed.records.values()];
      // kafkajs re-delivers uncommitted records only after a consumer crash or a rebalance; with
      // one consumer on a warmed-up broker neither should happen.
      console.log(
        `1k test: ${consumed.deliveries} deliveries, ${consumed.restarts} consumer restarts`,
      );
      if (consumed.restarts === 0) expect(consumed.deliveries).toBe(total);

      // Exactly once in the log: the records carry every sequence number once, key and value intact.
      const seqs = received.map(({ message }) => {
        const i = Number(message.headers?.['seq']?.toString());
        expect(message.key?.toString()).toBe(`key-${i}`);
        expect(message.value?.toString()).toBe(`value-${i}`);
        return i;
      });
      expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));

      // Per partition, offsets run 0..n-1 without gaps, and every partition got messages.
      const perPartition = new Map<number, number[]>();
      for (const { partition, message } of received) {
        const offsets = perPartition.get(partition) ?? [];
        offsets.push(Number(message.offset));
        perPartition.set(partition, offsets);
      }
      expect([...perPartition.keys()].sort()).toEqual([0, 1, 2]);
      for (const offsets of perPartition.values()) {
        expect(offsets).toEqual(offsets.map((_, index) => index));
      }

      await consumer.commitOffsets(
        [...perPartition].map(([partition, offsets]) => ({
          topic,
          partition,
          offset: String(offsets.length),
        })),
      );
      await consumer.disconnect();

      // The broker's view: high watermarks and committed offsets both equal the counts seen.
      const counts = [0, 1, 2].map((p) => perPartition.get(p)?.length ?? 0);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(total);
      const watermarks = await admin.fetchTopicOffsets(topic);
      expect(
        watermarks.sort((a, b) => a.partition - b.partition).map((w) => Number(w.high)),
      ).toEqual(counts);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(
        committed!.partitions
          .sort((a, b) => a.partition - b.partition)
          .map((p) => Number(p.offset)),
      ).toEqual(counts);

      // A new member of the group resumes from the commit: it sees only what came after.
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, k) => ({ key: `late-${k}`, value: `late-${k}` })),
      });
      const resumed = kafka.consumer({ groupId, allowAutoTopicCreation: false });
      await resumed.connect();
      try {
        await resumed.subscribe({ topics: [topic], fromBeginning: true });
        const late = [...(await consumeCount(resumed, 10)).records.values()];
        expect(late.map((r) => r.message.value?.toString()).sort()).toEqual(
          Array.from({ length: 10 }, (_, k) => `late-${k}`).sort(),
        );
      } finally {
        await resumed.disconnect();
      }
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('a dedicated KafkaBroker survives a crash with its port, data and offsets', () => {
  let broker: KafkaBroker | undefined;

  afterAll(async () => {
    await broker?.destroy();
  });

  it('restarts after SIGKILL on the same address with topics, messages and commits intact', async () => {
    broker = await KafkaBroker.start();
    const address = broker.brokers;
    const port = broker.port!;
    const workDir = broker.workDir!;
    const kafka = newKafkaClient('kafka-restart-spec', { brokers: address });
    const topic = uniqueTopic('restart');
    const groupId = uniqueTopic('restart-group');

    const admin = kafka.admin();
    await admin.connect();
    // The cluster id we formatted the storage with is the one the broker reports.
    expect((await admin.describeCluster()).clusterId).toBe(broker.clusterId);
    await createTopic(admin, topic, 1);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 5 }, (_, i) => ({ value: `before-${i}` })),
    });
    await producer.disconnect();
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '3' }] });
    await admin.disconnect();

    await broker.restart({ kill: true });
    expect(broker.brokers).toEqual(address);
    expect(await listening(port)).toBe(true);

    const after = newKafkaClient('kafka-restart-spec-after', { brokers: broker.brokers });
    const admin2 = after.admin();
    await admin2.connect();
    try {
      expect(await admin2.listTopics()).toContain(topic);
      const [watermark] = await admin2.fetchTopicOffsets(topic);
      expect(watermark?.high).toBe('5');
      // The group resumes at its commit (3): it reads the last two messages only.
      const consumer = after.consumer({ groupId });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        const { records } = await consumeCount(consumer, 2);
        expect([...records.values()].map((r) => r.message.value?.toString())).toEqual([
          'before-3',
          'before-4',
        ]);
      } finally {
        await consumer.disconnect();
      }
    } finally {
      await admin2.disconnect();
    }

    await broker.destroy();
    expect(broker.running).toBe(false);
    expect(await listening(port)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
  });
});
