/**
 * Acknowledgement of a fan-in's inputs as one unit. The inputs of a (request, round) group sit at
 * different offsets of one partition, with other records between them. Were each acknowledged as
 * soon as the group was done, the committed offset could fall between them: after a crash the
 * later input would be read again without the earlier one, and wait for it forever. So an input
 * is acknowledged only when every record up to the group's last input is acknowledged too; the
 * committed offset then passes a group's inputs all together or not at all.
 *
 * The rule, per partition: a done record at offset o whose group reaches offset r is released
 * (acknowledged) once no record in (o, r] is still unreleased. Releases only wait on higher
 * offsets, so once everything is done everything is released.
 */
import type { SourceMessage } from '../kafka/index.ts';

interface Entry {
  readonly offset: bigint;
  readonly message: SourceMessage;
  done: boolean;
  /** The highest offset of its group in this partition. */
  reach: bigint;
}

const partitionOf = (message: SourceMessage) => `${message.topic}\u0000${message.partition}`;

/**
 * Holds acknowledgements back until no committed offset can split a group.
 *
 * @example
 * const acks = new GroupAcks();
 * for (const m of batch.messages) acks.received(m);
 * // later, when a group's outputs are durable:
 * acks.done(group.items.map((item) => item.message));
 */
export class GroupAcks {
  /** Per partition, the records received and not yet released, in offset order. */
  private readonly partitions = new Map<string, Entry[]>();
  private readonly entries = new WeakMap<SourceMessage, Entry>();

  /** Records not yet released. */
  get held(): number {
    let count = 0;
    for (const entries of this.partitions.values()) count += entries.length;
    return count;
  }

  /** A record was handed out (in offset order within its partition). */
  received(message: SourceMessage): void {
    const key = partitionOf(message);
    let entries = this.partitions.get(key);
    if (entries === undefined) {
      entries = [];
      this.partitions.set(key, entries);
    }
    const offset = BigInt(message.offset);
    const last = entries.at(-1);
    // Read again from an earlier offset: what was held before will be delivered again.
    if (last !== undefined && offset <= last.offset) {
      const current = entries.filter((entry) => entry.message.isCurrent());
      entries.length = 0;
      entries.push(...current);
    }
    const entry = { offset, message, done: false, reach: offset };
    entries.push(entry);
    this.entries.set(message, entry);
  }

  /** These records' work is done (their outputs are durable): release them as the rule allows. */
  done(messages: readonly SourceMessage[]): void {
    const touched = new Map<string, bigint>();
    for (const message of messages) {
      const key = partitionOf(message);
      const offset = BigInt(message.offset);
      const reach = touched.get(key);
      touched.set(key, reach === undefined || offset > reach ? offset : reach);
    }
    for (const message of messages) {
      const key = partitionOf(message);
      const entry = this.entries.get(message);
      if (entry === undefined) continue;
      entry.done = true;
      entry.reach = touched.get(key)!;
    }
    for (const key of touched.keys()) this.release(key);
  }

  private release(key: string): void {
    const entries = this.partitions.get(key);
    if (entries === undefined) return;
    const kept: Entry[] = [];
    // The lowest offset above the current entry that stays unreleased.
    let blockedFrom: bigint | undefined;
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (!entry.message.isCurrent()) continue;
      if (entry.done && (blockedFrom === undefined || blockedFrom > entry.reach)) {
        entry.message.ack();
        continue;
      }
      kept.push(entry);
      blockedFrom = entry.offset;
    }
    kept.reverse();
    if (kept.length === 0) this.partitions.delete(key);
    else this.partitions.set(key, kept);
  }
}
