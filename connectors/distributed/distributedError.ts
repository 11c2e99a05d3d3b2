/** Why distributed mode cannot run as configured. Stable codes. */
export type DistributedErrorCode =
  /** The worker's agent is not an agent of the topology. */
  | 'unknown_agent'
  /** The topology uses something distributed mode does not run (see the message). */
  | 'unsupported_topology'
  /** A topology or agent name, or a prefix, cannot be part of a Kafka topic name. */
  | 'invalid_topic_name'
  /** An option is out of range or contradicts another. */
  | 'invalid_options';

/**
 * A configuration problem of distributed mode, found before anything runs (bad inputs at run time
 * become dead letters instead).
 *
 * @example
 * runWorker({ ir, agent: 'plannr', brokers }).catch((e) => { if (e instanceof DistributedError) console.error(e.code, e.message) });
 */
export class DistributedError extends Error {
  override readonly name = 'DistributedError';
  readonly retriable = false;

  constructor(
    readonly code: DistributedErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
