/**
 * A small seeded random generator whose whole state is one 32-bit number (mulberry32), so data
 * order and sampling can be checkpointed and resumed exactly.
 */

/**
 * @example
 * const rng = new SeededRandom(42);
 * rng.next(); // in [0, 1), the same sequence for the same seed
 * const saved = rng.state; new SeededRandom(0, saved).next() === rng.next(); // true
 */
export class SeededRandom {
  private s: number;
  constructor(seed: number, state?: number) {
    this.s = (state ?? seed) >>> 0;
  }

  /** The generator's whole state (to save it). */
  get state(): number {
    return this.s;
  }

  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A Fisher–Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/**
 * The order of `n` examples in epoch `epoch`: a pure function of (seed, epoch), so the data position
 * of a run is just (epoch, index) and resuming needs nothing else.
 *
 * @example epochOrder(4, 7, 0) // e.g. [2, 0, 3, 1]
 */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new SeededRandom(
    (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0,
  );
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}
