/**
 * The join of a fan-in: an agent with several inputs in a round (the mixture's summarizer reads
 * every specialist) runs a request's round only when all of them have arrived. Inputs wait here,
 * keyed by (request id, round); the group is handed out once every expected slot is filled.
 *
 * The join keeps no state of its own that could be lost: an input waiting here has not been
 * acknowledged, so its offset is not committed and a crash re-reads it. Bounded memory is the
 * caller's policy on `size` (see the worker: the oldest group is re-queued at the tail of its
 * topic). A redelivered input replaces a stale copy (`isLive`); a second live copy of a filled
 * slot, or an input of a group already done, is a duplicate.
 */

/** A complete group: one item per expected slot, in arrival order. */
export interface JoinGroup<T> {
  readonly requestId: string;
  readonly round: number;
  readonly items: readonly T[];
  /** When its first input arrived (ms, the join's clock). */
  readonly firstSeenMs: number;
}

export type JoinOutcome<T> =
  | { readonly status: 'complete'; readonly group: JoinGroup<T> }
  | { readonly status: 'waiting' }
  | { readonly status: 'duplicate' };

export interface LatentJoinOptions<T> {
  /** False for an item whose delivery is stale (it will be delivered again). Default: always live. */
  isLive?: (item: T) => boolean;
  /** How many done groups to remember, to recognise late duplicates. 0: none. Default 0. */
  rememberDone?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

interface Pending<T> {
  requestId: string;
  round: number;
  slots: Map<string, T>;
  firstSeenMs: number;
}

const keyOf = (requestId: string, round: number) => `${requestId}\u0000${round}`;

/**
 * Inputs waiting for their partners, per (request id, round).
 *
 * @example
 * const join = new LatentJoin<string>();
 * join.add('r1', 1, 'forward:math', ['forward:math', 'forward:code'], 'a'); // { status: 'waiting' }
 * join.add('r1', 1, 'forward:code', ['forward:math', 'forward:code'], 'b'); // complete, items ['a', 'b']
 */
export class LatentJoin<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private readonly done = new Set<string>();
  private readonly isLive: (item: T) => boolean;
  private readonly rememberDone: number;
  private readonly now: () => number;

  constructor(options: LatentJoinOptions<T> = {}) {
    this.isLive = options.isLive ?? (() => true);
    this.rememberDone = options.rememberDone ?? 0;
    this.now = options.now ?? Date.now;
  }

  /** Groups waiting for inputs. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Adds the item of one slot of (requestId, round), whose complete set of slots is `expected`.
   * An empty `expected` completes at once (a round started by a request).
   */
  add(
    requestId: string,
    round: number,
    slot: string,
    expected: readonly string[],
    item: T,
  ): JoinOutcome<T> {
    const key = keyOf(requestId, round);
    if (this.done.has(key)) return { status: 'duplicate' };
    let group = this.pending.get(key);
    if (group === undefined) {
      group = { requestId, round, slots: new Map(), firstSeenMs: this.now() };
    }
    const existing = group.slots.get(slot);
    if (existing !== undefined && this.isLive(existing)) return { status: 'duplicate' };
    group.slots.set(slot, item);
    if (expected.every((s) => group.slots.has(s))) {
      this.pending.delete(key);
      const items = expected.length === 0 ? [item] : expected.map((s) => group.slots.get(s)!);
      return {
        status: 'complete',
        group: { requestId, round, items, firstSeenMs: group.firstSeenMs },
      };
    }
    this.pending.set(key, group);
    return { status: 'waiting' };
  }

  /** Remembers that (requestId, round) is done: later copies of its inputs are duplicates. */
  markDone(requestId: string, round: number): void {
    if (this.rememberDone === 0) return;
    this.done.add(keyOf(requestId, round));
    if (this.done.size > this.rememberDone) {
      this.done.delete(this.done.values().next().value!);
    }
  }

  /** Removes the items that are no longer live (a rebalance or rewind); returns them. */
  dropStale(): T[] {
    const dropped: T[] = [];
    for (const [key, group] of this.pending) {
      for (const [slot, item] of group.slots) {
        if (!this.isLive(item)) {
          group.slots.delete(slot);
          dropped.push(item);
        }
      }
      if (group.slots.size === 0) this.pending.delete(key);
    }
    return dropped;
  }

  /** Removes and returns the group waiting longest (its items, arrival order). */
  evictOldest(): JoinGroup<T> | undefined {
    const first = this.pending.entries().next();
    if (first.done) return undefined;
    const [key, group] = first.value;
    this.pending.delete(key);
    return this.snapshot(group);
  }

  /** Removes and returns the groups whose first input arrived more than `timeoutMs` ago. */
  expired(timeoutMs: number): JoinGroup<T>[] {
    const limit = this.now() - timeoutMs;
    const out: JoinGroup<T>[] = [];
    // Insertion order is arrival order of each group's first input: stop at the first young one.
    for (const [key, group] of this.pending) {
      if (group.firstSeenMs > limit) break;
      this.pending.delete(key);
      out.push(this.snapshot(group));
    }
    return out;
  }

  private snapshot(group: Pending<T>): JoinGroup<T> {
    return {
      requestId: group.requestId,
      round: group.round,
      items: [...group.slots.values()],
      firstSeenMs: group.firstSeenMs,
    };
  }
}
