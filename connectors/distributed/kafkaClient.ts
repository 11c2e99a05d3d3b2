/** The kafkajs client distributed mode makes when it is given brokers rather than a client. */
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { DistributedError } from './distributedError.ts';

/**
 * A kafkajs client for `brokers` (a list, or a comma-separated string).
 *
 * @example distributedKafka('127.0.0.1:9092', 'rmas-worker-critic')
 */
export function distributedKafka(
  brokers: readonly string[] | string | undefined,
  clientId: string,
  config: Partial<KafkaConfig> = {},
): Kafka {
  const list =
    typeof brokers === 'string'
      ? brokers
          .split(',')
          .map((b) => b.trim())
          .filter((b) => b.length > 0)
      : [...(brokers ?? [])];
  if (list.length === 0) {
    throw new DistributedError('invalid_options', 'no brokers: pass brokers (or a kafka client)');
  }
  return new Kafka({
    clientId,
    brokers: list,
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 10 },
    ...config,
  });
}
