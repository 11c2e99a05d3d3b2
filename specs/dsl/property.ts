/**
 * Property-test settings for specs/dsl: a fixed seed (printed) and a short run count in CI;
 * `RMAS_PROPERTY_RUNS` for long runs, `RMAS_PROPERTY_SEED` to replay one.
 */
export function propertySettings(name: string, runs = 100): { seed: number; numRuns: number } {
  const seed = Number(process.env['RMAS_PROPERTY_SEED'] ?? 20260501);
  const numRuns = Number(process.env['RMAS_PROPERTY_RUNS'] ?? runs);
  console.log(`[property] ${name}: seed ${seed}, ${numRuns} runs`);
  return { seed, numRuns };
}
