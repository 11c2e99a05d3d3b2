/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (L2 over every gradient):
 * scale = min(1, maxNorm / (‖g‖ + 1e-6)).
 */
import * as tf from '@tensorflow/tfjs';

/** ‖g‖₂ over every tensor of the map, as one number. */
export function globalNorm(grads: ReadonlyMap<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  const total = tf.tidy(() =>
    tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))),
  );
  const value = total.dataSync()[0]!;
  total.dispose();
  return value;
}

/**
 * Returns the clipped gradients (new tensors, caller owns) and the norm before clipping. The
 * input gradients are borrowed.
 *
 * @example
 * const { grads: clipped, norm } = clipByGlobalNorm(grads, 1.0);
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = globalNorm(grads);
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, scale));
  return { grads: clipped, norm };
}
