/**
 * Settings of every property in specs/properties: a fixed seed and a short run count in CI, so a
 * run is reproducible and fast; `RMAS_PROPERTY_RUNS=<n>` raises the count for long runs (every
 * property scales from its CI count by the same factor, so the slow ones stay proportionate),
 * `RMAS_PROPERTY_SEED=<seed>` replays another seed. Each property prints its name, seed and run
 * count; on failure fast-check's error carries the seed, the replay path and the shrunk
 * counterexample.
 */
import type fc from 'fast-check';

/** The seed every property uses unless `RMAS_PROPERTY_SEED` says otherwise. */
export const DEFAULT_PROPERTY_SEED = 20_260_901;

/** The run count the cheapest properties use in CI; `RMAS_PROPERTY_RUNS` replaces it. */
const CI_BASE_RUNS = 100;

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * fast-check parameters for one property: `{ seed, numRuns }`.
 * `ciRuns` is the count in CI; with `RMAS_PROPERTY_RUNS=n` it becomes
 * `max(ciRuns, round(ciRuns · n / 100))`.
 * @example fc.assert(fc.property(arb, check), propertyConfig('codec round trip', 100));
 */
export function propertyConfig(name: string, ciRuns: number): fc.Parameters<unknown> {
  const seed = envNumber('RMAS_PROPERTY_SEED') ?? DEFAULT_PROPERTY_SEED;
  const requested = envNumber('RMAS_PROPERTY_RUNS');
  const numRuns =
    requested === undefined
      ? ciRuns
      : Math.max(ciRuns, Math.round((ciRuns * requested) / CI_BASE_RUNS));
  console.log(`[property] ${name} seed=${seed} runs=${numRuns}`);
  return { seed, numRuns };
}
