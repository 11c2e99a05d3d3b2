/** Why a Kafka connector stopped or could not do what it was asked. Stable codes. */
export type KafkaConnectorErrorCode =
  /** Another producer with the same transactional id took over: this instance must stop. */
  | 'producer_fenced'
  /** A transaction failed before its commit and was aborted (its outputs go in the next one). */
  | 'transaction_failed'
  /**
   * A transaction's commit failed half-way: it may have committed. Only a new producer with the
   * same transactional id can settle it, so the stream stops (a distributed worker starts a new
   * Kafka session; a pipeline's `run()` rejects and may be run again).
   */
  | 'transaction_in_doubt'
  /** Outputs could not be written after the client's own retries. */
  | 'send_failed'
  /** The consumer stopped on an error it could not recover from. */
  | 'consumer_crashed'
  /** Exactly-once mode was asked of a producer without transactions. */
  | 'not_transactional'
  /** The source was subscribed to twice. */
  | 'already_subscribed';

/**
 * A failure of the Kafka plumbing itself (not of an input: bad inputs become dead letters).
 *
 * @example
 * pipeline.run().catch((e) => { if (e instanceof KafkaConnectorError && e.code === 'producer_fenced') process.exit(1) });
 */
export class KafkaConnectorError extends Error {
  override readonly name = 'KafkaConnectorError';

  constructor(
    readonly code: KafkaConnectorErrorCode,
    message: string,
    /** True when trying again later may succeed. */
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
