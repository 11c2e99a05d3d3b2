/**
 * Named instrumentation events of the Kafka connectors, plus always-on counters.
 *
 * Emitting costs one map lookup when nobody listens: payloads are built by a callback that only
 * runs when there is a listener.
 */

export interface ConnectorEventMap {
  /** A batch was read from Kafka and handed downstream. */
  'source.batch': { topic: string; partition: number; size: number; firstOffset: string };
  /** In-flight messages reached the high-water mark: the consumer is paused. */
  'source.pause': { inFlight: number };
  /** In-flight messages fell to the low-water mark: the consumer resumed. */
  'source.resume': { inFlight: number; pausedMs: number };
  /** A partition was read again from an earlier offset (rebalance, seek, restart). */
  'source.rewind': { topic: string; partition: number; fromOffset: string };
  /** The group was rebalanced; these are the partitions this member now owns. */
  'source.rebalance': { assignment: Record<string, number[]> };
  /** In-flight work was drained (before a rebalance or a stop). */
  'source.drain': { reason: 'rebalance' | 'stop'; inFlightLeft: number; durationMs: number };
  /** Offsets were committed (consumer commit, or inside a transaction). */
  commit: { offsets: { topic: string; partition: number; offset: string }[] };
  /** A commit failed; it is retried with the next one. */
  'commit.error': { error: unknown };
  /** An input went to the dead-letter topic. */
  'dead-letter': {
    code: string;
    path: string;
    message: string;
    topic: string;
    partition: number;
    offset: string;
  };
  /** A transaction committed outputs and offsets together. */
  'transaction.commit': { records: number; durationMs: number };
  /** A transaction was aborted; its outputs are retried. */
  'transaction.abort': { error: unknown };
  /** A transaction's commit failed half-way (it may have committed): the stream stops. */
  'transaction.in-doubt': { error: unknown };
}

export type ConnectorEventName = keyof ConnectorEventMap;

/** Counters kept whether or not anyone listens (plain increments). */
export interface ConnectorMetrics {
  /** Messages read from Kafka. */
  received: number;
  /** Messages whose outputs are durable (or buffered in the open transaction). */
  acknowledged: number;
  /** Answers written. */
  answered: number;
  /** Inputs sent to the dead-letter topic, in total and by code. */
  deadLetters: number;
  deadLettersByCode: Record<string, number>;
  commits: number;
  commitErrors: number;
  pauses: number;
  rewinds: number;
  /**
   * Messages read again below an offset this source had already committed (the group handed a
   * stale position after a rejoin): dropped, their outputs are already written.
   */
  alreadyCommitted: number;
  transactions: number;
  transactionAborts: number;
}

export function emptyMetrics(): ConnectorMetrics {
  return {
    received: 0,
    acknowledged: 0,
    answered: 0,
    deadLetters: 0,
    deadLettersByCode: {},
    commits: 0,
    commitErrors: 0,
    pauses: 0,
    rewinds: 0,
    alreadyCommitted: 0,
    transactions: 0,
    transactionAborts: 0,
  };
}

type Listener<K extends ConnectorEventName> = (event: ConnectorEventMap[K]) => void;

/**
 * A typed event emitter whose payloads are only built when someone listens.
 *
 * @example
 * const off = pipeline.events.on('dead-letter', (e) => console.log(e.code, e.offset));
 * off(); // stop listening
 */
export class ConnectorEvents {
  private readonly listeners = new Map<ConnectorEventName, Set<(event: never) => void>>();

  on<K extends ConnectorEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    return () => {
      set.delete(listener as (event: never) => void);
      if (set.size === 0) this.listeners.delete(name);
    };
  }

  /**
   * Builds the payload and calls the listeners, only if there are listeners. A listener that
   * throws does not break the pipeline: its error is rethrown on its own (an uncaught exception).
   */
  emit<K extends ConnectorEventName>(name: K, payload: () => ConnectorEventMap[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    const event = payload();
    for (const listener of set) {
      try {
        (listener as Listener<K>)(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  hasListeners(name: ConnectorEventName): boolean {
    return this.listeners.has(name);
  }
}
