/**
 * At-least-once bookkeeping for one partition: which received offsets have had every output
 * acknowledged, and therefore how far the group's committed offset may advance.
 *
 * Acks arrive in any order (batches are processed concurrently); the commit point only ever
 * covers a contiguous acknowledged prefix of what was received. Offsets need not be consecutive
 * (compaction, transaction markers), so the tracker keeps the offsets it saw, not a counter.
 *
 * A rewind (the partition is read again from an earlier offset after a rebalance, a seek or a
 * restart) starts a new epoch: acks for messages handed out before it are ignored, because those
 * messages will be delivered and acknowledged again.
 *
 * Offsets are kept as numbers (exact up to 2^53, about 285 years at a million records per second);
 * a larger offset is refused with a RangeError rather than rounded.
 */

/** Handed out with each received message; give it back to `ack`. */
export interface OffsetLease {
  readonly offset: number;
  readonly epoch: number;
}

/** The lease is the tracker's own entry: acking needs no lookup. */
interface Entry extends OffsetLease {
  acked: boolean;
}

/**
 * One partition's ack/commit tracker.
 *
 * @example
 * const tracker = new PartitionOffsets();
 * const a = tracker.receive('5'), b = tracker.receive('6');
 * tracker.ack(b); tracker.committable();   // undefined: 5 is still in flight
 * tracker.ack(a); tracker.committable();   // '7': everything through 6 is done
 */
export class PartitionOffsets {
  private epochNumber = 0;
  private entries: Entry[] = [];
  private head = 0;
  private unacked = 0;
  private first: number | undefined;
  private last: number | undefined;
  private committedOffset: number | undefined;

  /** The current epoch; leases from earlier epochs are stale. */
  get epoch(): number {
    return this.epochNumber;
  }

  /** The highest offset received in this epoch. */
  get lastReceived(): number | undefined {
    return this.last;
  }

  /** Received in this epoch and not yet acknowledged. */
  get pending(): number {
    return this.unacked;
  }

  /** Records a received offset. Offsets must increase within an epoch (else `rewind` first). */
  receive(offset: string | number): OffsetLease {
    const value = Number(offset);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`offset ${offset} is not an integer in [0, 2^53)`);
    }
    if (this.last !== undefined && value <= this.last) {
      throw new RangeError(`offset ${value} is not after ${this.last}: rewind() first`);
    }
    this.first ??= value;
    this.last = value;
    const entry: Entry = { offset: value, epoch: this.epochNumber, acked: false };
    this.entries.push(entry);
    this.unacked++;
    return entry;
  }

  /** Marks a message done. Returns false (and changes nothing) for stale or repeated acks. */
  ack(lease: OffsetLease): boolean {
    const entry = lease as Entry;
    if (entry.epoch !== this.epochNumber || entry.acked) return false;
    entry.acked = true;
    this.unacked--;
    while (this.head < this.entries.length && this.entries[this.head]!.acked) this.head++;
    // Drop the acknowledged prefix now and then, so memory follows what is in flight.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /**
   * The offset to commit now (the next offset to read: every received offset below it is
   * acknowledged), or undefined when that would not move past the last commit.
   */
  committable(): string | undefined {
    if (this.last === undefined) return undefined;
    const next = this.head < this.entries.length ? this.entries[this.head]!.offset : this.last + 1;
    // Nothing acknowledged yet in this epoch: the first received offset is not ours to commit.
    if (next === this.first) return undefined;
    if (this.committedOffset !== undefined && next <= this.committedOffset) return undefined;
    return String(next);
  }

  /** Records a successful commit of `offset` made while `epoch` was current. */
  markCommitted(offset: string, epoch: number): void {
    if (epoch !== this.epochNumber) return;
    const value = Number(offset);
    if (this.committedOffset === undefined || value > this.committedOffset) {
      this.committedOffset = value;
    }
  }

  /** Forgets everything in flight: the partition will be read again from its committed offset. */
  rewind(): void {
    this.epochNumber++;
    this.entries = [];
    this.head = 0;
    this.unacked = 0;
    this.first = undefined;
    this.last = undefined;
    this.committedOffset = undefined;
  }
}
