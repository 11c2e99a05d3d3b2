/**
 * Choosing the next token from a row of logits: greedy (argmax), or sampling at a temperature
 * with optional nucleus (top-p) filtering, from a seeded generator so runs are reproducible.
 */

/**
 * A small seeded PRNG (mulberry32), uniform in [0, 1).
 *
 * @example
 * const random = seededRandom(42); random(); // same sequence for the same seed
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest value; the first one on ties (as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Picks a token id from one row of logits. `temperature` 0 (or omitted) is greedy. Otherwise the
 * logits are divided by the temperature, and with `topP` < 1 only the smallest set of most likely
 * tokens whose probabilities sum to at least `topP` is kept (at least one token), as transformers'
 * TopPLogitsWarper does.
 *
 * @example
 * sampleToken(new Float32Array([0, 3, 1]), {}, Math.random); // 1
 */
export function sampleToken(
  logits: ArrayLike<number>,
  options: { temperature?: number; topP?: number },
  random: () => number,
): number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  const topP = options.topP ?? 1;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  const probs = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    probs[i] = Math.exp(logits[i]! / temperature - max);
    total += probs[i]!;
  }
  let candidates: number[];
  if (topP < 1) {
    const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
    candidates = [];
    let mass = 0;
    for (const id of order) {
      candidates.push(id);
      mass += probs[id]! / total;
      if (mass >= topP) break;
    }
  } else {
    candidates = Array.from(probs.keys());
  }
  let kept = 0;
  for (const id of candidates) kept += probs[id]!;
  let threshold = random() * kept;
  for (const id of candidates) {
    threshold -= probs[id]!;
    if (threshold < 0) return id;
  }
  return candidates[candidates.length - 1]!;
}
