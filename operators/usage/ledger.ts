/**
 * The usage ledger: what each agent turn cost, per request, per agent, per round. Every message
 * carries the entries of its request so far (`usage`), and every answer carries them with their
 * totals. Wall time of a batched call is shared equally by the requests of the batch; FLOPs are
 * estimated per request on its own, unpadded, sequence (operators/usage/flops.ts).
 */

export type UsagePhase = 'latent' | 'transfer' | 'text' | 'decode';

export interface UsageEntry {
  readonly requestId: string;
  readonly agent: string;
  readonly round: number;
  readonly phase: UsagePhase;
  /** Text tokens of the prompt this turn read. */
  readonly promptTokens: number;
  /** Latent vectors spliced into the prompt (from other agents). */
  readonly latentInputs: number;
  /** Tokens decoded to text. */
  readonly generatedTokens: number;
  /** Latent thoughts produced (forward steps without a vocabulary projection). */
  readonly latentSteps: number;
  /** Estimated FLOPs. */
  readonly flops: number;
  /** This request's share of the wall time of the call, in milliseconds. */
  readonly wallTimeMs: number;
}

export interface UsageTotals {
  promptTokens: number;
  latentInputs: number;
  generatedTokens: number;
  latentSteps: number;
  flops: number;
  wallTimeMs: number;
  /** Number of entries summed. */
  turns: number;
}

/**
 * Sums entries.
 *
 * @example sumUsage(answer.usage).generatedTokens
 */
export function sumUsage(entries: readonly UsageEntry[]): UsageTotals {
  const totals: UsageTotals = {
    promptTokens: 0,
    latentInputs: 0,
    generatedTokens: 0,
    latentSteps: 0,
    flops: 0,
    wallTimeMs: 0,
    turns: 0,
  };
  for (const e of entries) {
    totals.promptTokens += e.promptTokens;
    totals.latentInputs += e.latentInputs;
    totals.generatedTokens += e.generatedTokens;
    totals.latentSteps += e.latentSteps;
    totals.flops += e.flops;
    totals.wallTimeMs += e.wallTimeMs;
    totals.turns += 1;
  }
  return totals;
}

/**
 * Sums entries grouped by a key (request, agent, round, ...).
 *
 * @example groupUsage(entries, (e) => e.agent).get('planner')
 */
export function groupUsage<K>(
  entries: readonly UsageEntry[],
  key: (entry: UsageEntry) => K,
): Map<K, UsageTotals> {
  const groups = new Map<K, UsageEntry[]>();
  for (const e of entries) {
    const k = key(e);
    const list = groups.get(k);
    if (list) list.push(e);
    else groups.set(k, [e]);
  }
  return new Map([...groups].map(([k, list]) => [k, sumUsage(list)]));
}

/**
 * A run's ledger: collects every entry, sums per request and per run.
 *
 * @example
 * const ledger = new UsageLedger();
 * ledger.recordAll(answer.usage);
 * ledger.totals().flops;
 */
export class UsageLedger {
  readonly #entries: UsageEntry[] = [];

  record(entry: UsageEntry): void {
    this.#entries.push(entry);
  }

  recordAll(entries: readonly UsageEntry[]): void {
    for (const e of entries) this.#entries.push(e);
  }

  get entries(): readonly UsageEntry[] {
    return this.#entries;
  }

  forRequest(requestId: string): UsageTotals {
    return sumUsage(this.#entries.filter((e) => e.requestId === requestId));
  }

  byRequest(): Map<string, UsageTotals> {
    return groupUsage(this.#entries, (e) => e.requestId);
  }

  totals(): UsageTotals {
    return sumUsage(this.#entries);
  }
}
