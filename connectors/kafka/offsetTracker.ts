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
 */

/** Handed out with each received message; give it back to `ack`. */
export interface OffsetLease {
  readonly offset: bigint;
  readonly epoch: number;
}

interface Entry {
  offset: bigint;
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
  private readonly byOffset = new Map<bigint, Entry>();
  private first: bigint | undefined;
  private last: bigint | undefined;
  private committedOffset: bigint | undefined;

  /** The current epoch; leases from earlier epochs are stale. */
  get epoch(): number {
    return this.epochNumber;
  }

  /** The highest offset received in this epoch. */
  get lastReceived(): bigint | undefined {
    return this.last;
  }

  /** Received in this epoch and not yet acknowledged. */
  get pending(): number {
    return this.byOffset.size;
  }

  /** Records a received offset. Offsets must increase within an epoch (else `rewind` first). */
  receive(offset: string | bigint): OffsetLease {
    const value = BigInt(offset);
    if (this.last !== undefined && value <= this.last) {
      throw new RangeError(`offset ${value} is not after ${this.last}: rewind() first`);
    }
    this.first ??= value;
    this.last = value;
    const entry: Entry = { offset: value, acked: false };
    this.entries.push(entry);
    this.byOffset.set(value, entry);
    return { offset: value, epoch: this.epochNumber };
  }

  /** Marks a message done. Returns false (and changes nothing) for stale or repeated acks. */
  ack(lease: OffsetLease): boolean {
    if (lease.epoch !== this.epochNumber) return false;
    const entry = this.byOffset.get(lease.offset);
    if (!entry) return false;
    entry.acked = true;
    this.byOffset.delete(lease.offset);
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
    const next = this.head < this.entries.length ? this.entries[this.head]!.offset : this.last + 1n;
    if (this.committedOffset !== undefined && next <= this.committedOffset) return undefined;
    // Nothing acknowledged yet in this epoch: the first received offset is not ours to commit.
    if (next === this.first) return undefined;
    return next.toString();
  }

  /** Records a successful commit of `offset` made while `epoch` was current. */
  markCommitted(offset: string, epoch: number): void {
    if (epoch !== this.epochNumber) return;
    const value = BigInt(offset);
    if (this.committedOffset === undefined || value > this.committedOffset) {
      this.committedOffset = value;
    }
  }

  /** Forgets everything in flight: the partition will be read again from its committed offset. */
  rewind(): void {
    this.epochNumber++;
    this.entries = [];
    this.head = 0;
    this.byOffset.clear();
    this.first = undefined;
    this.last = undefined;
    this.committedOffset = undefined;
  }
}
