/**
 * Learning-rate schedules as pure functions of the optimizer step, so a resumed run only needs the
 * step count to continue the same curve.
 */
import { TrainError } from '../errors.ts';

export interface CosineScheduleConfig {
  /** Peak learning rate (reached at the end of warmup). */
  baseLr: number;
  /** Linear warmup length in optimizer steps; the official runs use 10. */
  warmupSteps: number;
  /** Total optimizer steps of the run (the cosine reaches 0 there). */
  totalSteps: number;
  /** Number of cosine half-waves over the decay; default 0.5 (one half-wave, to 0). */
  numCycles?: number;
}

/**
 * transformers' `get_cosine_schedule_with_warmup` (what the official code uses): the learning rate
 * of the update numbered `step` (0-based: the first update uses step 0) is
 *   baseLr · step / warmup                                    while step < warmup
 *   baseLr · max(0, ½(1 + cos(π · 2·cycles · progress)))      after, progress = (step − warmup)/(total − warmup)
 * With warmup > 0 the first update therefore has learning rate 0, exactly as in transformers.
 *
 * @example
 * const lr = cosineWithWarmup({ baseLr: 5e-4, warmupSteps: 10, totalSteps: 100 });
 * lr(5); // 2.5e-4
 */
export function cosineWithWarmup(config: CosineScheduleConfig): (step: number) => number {
  const { baseLr, warmupSteps, totalSteps } = config;
  const cycles = config.numCycles ?? 0.5;
  if (!(baseLr >= 0) || warmupSteps < 0 || totalSteps <= 0 || !Number.isInteger(totalSteps)) {
    throw new TrainError(
      'INVALID_CONFIG',
      `cosine schedule needs baseLr >= 0, warmupSteps >= 0 and an integer totalSteps > 0, got ${JSON.stringify(config)}`,
    );
  }
  return (step) => {
    if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
  };
}
