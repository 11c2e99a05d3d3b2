/**
 * What every batched operator does with one batch: error records pass through untouched, the
 * other messages go to `step` together (one batched forward pass), and the results come back in
 * the input order. If `step` throws for the whole batch, every message of the batch becomes an
 * error record: the stream goes on. The consumed messages are released (their tensors disposed)
 * either way.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { type Batch, type ErrorRecord, errorRecord, isErrorRecord } from './messages.ts';
import type { UsageEntry } from './usage/ledger.ts';

interface Identified {
  requestId: string;
  round: number;
  usage: readonly UsageEntry[];
}

/**
 * @example subscriber.next(runBatch(batch, agent.name, (items) => step(items), disposeTurn));
 */
export function runBatch<In extends Identified, Out>(
  batch: Batch<In>,
  agent: string,
  step: (items: In[]) => Array<Out | ErrorRecord>,
  release: (item: In) => void,
): Batch<Out> {
  const items = batch.filter((x): x is In => !isErrorRecord(x));
  let results: Array<Out | ErrorRecord>;
  try {
    results = items.length > 0 ? step(items) : [];
  } catch (error) {
    results = items.map((item) => errorRecord(item, agent, error));
  } finally {
    for (const item of items) release(item);
  }
  let next = 0;
  return batch.map((x) => (isErrorRecord(x) ? x : results[next++]!));
}

/**
 * The operator shape shared by every batched operator: each input batch becomes one output batch
 * through `runBatch`; errors and completion pass through.
 *
 * @example
 * const op = batchOperator(agent.name, (items) => step(items), disposeTurn);
 */
export function batchOperator<In extends Identified, Out>(
  agent: string,
  step: (items: In[]) => Array<Out | ErrorRecord>,
  release: (item: In) => void,
): OperatorFunction<Batch<In>, Batch<Out>> {
  return (source) =>
    new Observable<Batch<Out>>((subscriber) =>
      source.subscribe({
        next: (batch) => subscriber.next(runBatch(batch, agent, step, release)),
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}

/** Wall time in milliseconds since `start` (performance.now()). */
export function elapsedMs(start: number): number {
  return performance.now() - start;
}
