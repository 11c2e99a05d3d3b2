/**
 * Cross-entropy over chosen positions: the objective of the outer loop (the final agent's answer
 * tokens) and of the LoRA / full fine-tuning baselines (the role texts' target tokens).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * mean over positions with mask 1 of −log softmax(logits)[label]; 0 when the mask is empty.
 * Caller owns the scalar.
 *
 * @example
 * // logits [b, T, V], labels [b, T] int32 (the next token at each position), mask [b, T]
 * const ce = maskedCrossEntropy(logits, labels, mask);
 */
export function maskedCrossEntropy(
  logits: tf.Tensor3D,
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[2];
    const logProbs = tf.logSoftmax(logits); // [b, T, V]
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(labels.toInt(), vocab)), -1); // [b, T]
    const count = tf.maximum(tf.sum(mask), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), count) as tf.Scalar;
  });
}

/**
 * Fraction of rows whose every masked position has its label as the argmax: exact match of a
 * greedy decode of the labelled span under teacher forcing (greedy decoding reproduces the span
 * iff each of its tokens is the argmax given the gold prefix).
 *
 * @example maskedExactMatch(logits, labels, mask) // 0.75 when 3 of 4 answers are decoded exactly
 */
export function maskedExactMatch(
  logits: tf.Tensor3D,
  labels: tf.Tensor2D,
  mask: tf.Tensor2D,
): number {
  const perRow = tf.tidy(() => {
    const wrong = tf.mul(tf.notEqual(tf.argMax(logits, -1), labels.toInt()).toFloat(), mask); // [b, T]
    return tf.equal(tf.sum(wrong, -1), 0).toFloat();
  });
  const rows = perRow.dataSync();
  perRow.dispose();
  return Array.from(rows).reduce((a, b) => a + b, 0) / Math.max(rows.length, 1);
}
