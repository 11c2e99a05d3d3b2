import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  Kafka,
  type KafkaConfig,
  logLevel,
} from 'kafkajs';
import { inject } from 'vitest';

let brokersOnce: Promise<string[]> | undefined;

/**
 * Bootstrap addresses of the run's shared Kafka broker: `KAFKA_BROKERS` (comma list) when set,
 * otherwise the real broker globalSetup starts on the first call of the run (see globalSetup.ts).
 * Call it in `beforeAll`: the first call of a run may take a few seconds (minutes on a cold cache).
 *
 * @example
 * const brokers = await kafkaBrokers(); // ['127.0.0.1:40123']
 */
export function kafkaBrokers(): Promise<string[]> {
  brokersOnce ??= askForBrokers();
  return brokersOnce;
}

/**
 * A topic name no other test (or earlier run against the same broker) uses.
 *
 * @example
 * uniqueTopic('orders'); // 'orders-8123-m3x1k2-a1b2c3'
 */
export function uniqueTopic(prefix: string): string {
  const safe = prefix.replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, 100);
  return `${safe}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * kafkajs with one test default: consumers long-poll 250 ms instead of 5 s, because
 * `consumer.disconnect()` waits for the poll in flight: 5 s per consumer in every test.
 */
class TestKafka extends Kafka {
  override consumer(config: ConsumerConfig): Consumer {
    return super.consumer({ maxWaitTimeInMs: 250, ...config });
  }
}

/**
 * A kafkajs client for tests: the shared broker unless `brokers` is given, fast retries (a test
 * should fail in seconds, not minutes), consumers that disconnect at once (see `TestKafka`) and
 * silent logs (`KAFKAJS_LOG_LEVEL=debug` overrides).
 *
 * @example
 * const kafka = newKafkaClient('my-spec');
 * const producer = kafka.producer();
 */
export function newKafkaClient(
  clientId: string,
  options: { brokers?: string[] } & Partial<Omit<KafkaConfig, 'brokers' | 'clientId'>> = {},
): Kafka {
  const { brokers, ...config } = options;
  return new TestKafka({
    clientId,
    brokers: brokers ?? kafkaBrokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 15_000,
    // Short, capped back-off: e.g. the first group coordinator lookup waits for __consumer_offsets.
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 12 },
    ...config,
  });
}

/**
 * Creates a topic and waits until the broker serves every partition. Not kafkajs's
 * `waitForLeaders`: in KRaft mode the broker learns about a new topic a moment after CreateTopics
 * returns, and kafkajs gives up on the UNKNOWN_TOPIC_OR_PARTITION answer it gets meanwhile. Even
 * once the metadata names a leader, the broker may still answer NOT_LEADER_OR_FOLLOWER for a
 * moment; a kafkajs producer then retries the whole request, duplicating the partitions that had
 * succeeded (unless it is idempotent). So this also waits until ListOffsets, which only the
 * partition's active leader answers, succeeds for every partition.
 *
 * @example
 * await createTopic(admin, uniqueTopic('orders'), 3);
 */
export async function createTopic(
  admin: Admin,
  topic: string,
  numPartitions = 1,
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no metadata yet';
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length === numPartitions && partitions.every((p) => p.leader >= 0)) {
        const offsets = await admin.fetchTopicOffsets(topic);
        if (offsets.length === numPartitions) return;
        lastProblem = `offsets for ${offsets.length} of ${numPartitions} partitions`;
      } else {
        lastProblem = `${partitions.length} of ${numPartitions} partitions with a leader`;
      }
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`Topic ${topic} not ready after ${timeoutMs} ms: ${lastProblem}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function askForBrokers(): Promise<string[]> {
  const fromEnv = process.env['KAFKA_BROKERS'];
  if (fromEnv) {
    return fromEnv
      .split(',')
      .map((address) => address.trim())
      .filter((address) => address.length > 0);
  }
  const url = inject('kafkaHarnessUrl');
  if (!url)
    throw new Error(
      'kafkaBrokers(): no KAFKA_BROKERS and no harness (specs/harness/globalSetup.ts)',
    );
  // node:http rather than fetch: undici's 300 s header timeout could cut off a cold Maven download.
  const body = await new Promise<string>((resolve, reject) => {
    get(`${url}/brokers`, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve(text));
      response.on('error', reject);
    }).on('error', reject);
  });
  const answer = JSON.parse(body) as { brokers?: string[]; error?: string };
  if (!answer.brokers) throw new Error(`The test Kafka broker did not start: ${answer.error}`);
  return answer.brokers;
}
