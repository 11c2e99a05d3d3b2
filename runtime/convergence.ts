/**
 * The convergence test behind `rounds.epsilon`: how much the latents carried by the feedback
 * edges changed between two consecutive rounds, as a relative L2 distance over all feedback
 * sources together: ‖H_r − H_{r−1}‖ / ‖H_{r−1}‖, on the senders' last-layer states (what the
 * feedback edges carry, before their links). Text mode has no latents: 0 when every feedback
 * text repeated, else 1.
 */
import * as tf from '@tensorflow/tfjs';
import type { Mode } from '../dsl/graph.ts';
import type { RequestState } from './state.ts';

/**
 * The change after the round a state has just run; undefined when there is nothing to compare
 * (round 1, or no feedback edge).
 * @example changeOfFeedback(state, ['solver'], 'latent') // 0.013
 */
export function changeOfFeedback(
  state: RequestState,
  feedbackSources: readonly string[],
  mode: Mode,
): number | undefined {
  if (state.round === 1 || feedbackSources.length === 0) return undefined;
  if (mode === 'text') {
    return feedbackSources.every((f) => state.texts[f] === state.fedBackTexts[f]) ? 0 : 1;
  }
  const pairs = feedbackSources.flatMap((f) => {
    const now = state.thoughts[f];
    const before = state.fedBack[f];
    return now !== undefined && before !== undefined ? [[now, before] as const] : [];
  });
  if (pairs.length === 0) return undefined;
  // Thoughts that ended at a different step (a latent stop) did not converge.
  if (pairs.some(([now, before]) => now.shape[0] !== before.shape[0])) {
    return Number.POSITIVE_INFINITY;
  }
  const [diff, base] = tf.tidy(() => {
    let diff = tf.scalar(0);
    let base = tf.scalar(0);
    for (const [now, before] of pairs) {
      diff = diff.add(tf.sum(tf.square(tf.sub(now, before))));
      base = base.add(tf.sum(tf.square(before)));
    }
    return [diff, base];
  });
  const [d, b] = [diff.dataSync()[0]!, base.dataSync()[0]!];
  tf.dispose([diff, base]);
  if (b === 0) return d === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.sqrt(d / b);
}
