/** At-least-once writes: records grouped by topic, retried while the broker is away. */
import {
  KafkaConnectorError,
  type KafkaLikeOutgoingMessage,
  type KafkaLikeProducer,
  type OutputRecord,
} from '../kafka/index.ts';

/** Sends records grouped by topic; retries (the broker may be restarting) for up to a minute. */
export async function sendWithRetry(
  producer: KafkaLikeProducer,
  records: readonly OutputRecord[],
): Promise<void> {
  if (records.length === 0) return;
  const byTopic = new Map<string, { topic: string; messages: KafkaLikeOutgoingMessage[] }>();
  for (const { topic, message } of records) {
    let group = byTopic.get(topic);
    if (!group) {
      group = { topic, messages: [] };
      byTopic.set(topic, group);
    }
    group.messages.push(message);
  }
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; ; attempt++) {
    try {
      await producer.sendBatch({ topicMessages: [...byTopic.values()] });
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new KafkaConnectorError(
          'send_failed',
          `could not write ${records.length} records: ${error instanceof Error ? error.message : String(error)}`,
          true,
          { cause: error },
        );
      }
      const backoff = Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}
