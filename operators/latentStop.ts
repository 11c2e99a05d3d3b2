/**
 * Where latent thoughts end (an rmas extension; the paper's rollout always runs m steps).
 *
 * An inner link maps each state to the input embedding of the token the agent would have written
 * next, so a thought R_in(h_s) that points at one of the agent's stop tokens is where the agent
 * would have stopped writing in text. Cutting the hand-off there gives the next agent what text
 * mode would have given it (no states past the end of the message), and lets a batch stop
 * stepping once every row has ended: short messages cost short rollouts.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, Tokenizer } from '../models/types.ts';
import { OperatorError } from './errors.ts';
import { applyLink, type RecursiveLink } from './links/recursiveLink.ts';

export interface LatentStop {
  /** [k, d] input embeddings of the agent's stop tokens. */
  embeddings: tf.Tensor2D;
  /** A thought within this cosine similarity of a stop embedding ends the row, in (0, 1]. */
  minCosine: number;
}

/**
 * The stop rule of an agent: its tokenizer's end-of-sequence tokens, embedded by its own model.
 * The caller owns `embeddings`.
 * @example const stop = latentStopOf(agent.model, agent.tokenizer, 0.9); // ... stop.embeddings.dispose()
 */
export function latentStopOf(model: CausalLM, tokenizer: Tokenizer, minCosine: number): LatentStop {
  if (!(minCosine > 0 && minCosine <= 1)) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `latent stop minCosine must be in (0, 1], got ${minCosine}`,
    );
  }
  const ids = tokenizer.eosTokenIds;
  if (ids.length === 0) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      'a latent stop needs the tokenizer to name an end-of-sequence token',
    );
  }
  const embeddings = tf.tidy(
    () =>
      model.embed(tf.tensor2d([[...ids]], [1, ids.length], 'int32')).squeeze([0]) as tf.Tensor2D,
  );
  return { embeddings, minCosine };
}

/** [..., d] thoughts -> [...] their largest cosine similarity to a stop embedding. */
function stopSimilarity(thoughts: tf.Tensor, stop: LatentStop): tf.Tensor {
  return tf.tidy(() => {
    const unit = (x: tf.Tensor) => x.div(x.norm('euclidean', -1, true).add(1e-12));
    const d = stop.embeddings.shape[1];
    const flat = unit(thoughts).reshape([-1, d]) as tf.Tensor2D;
    const cos = tf.matMul(flat, unit(stop.embeddings) as tf.Tensor2D, false, true).max(-1);
    return cos.reshape(thoughts.shape.slice(0, -1));
  });
}

/**
 * [batch, d] next inputs R_in(h) -> whether each row's thought is a stop.
 * @example isStop(next, stop) // [false, true]
 */
export function isStop(next: tf.Tensor2D, stop: LatentStop): boolean[] {
  const cos = stopSimilarity(next, stop);
  const values = cos.dataSync();
  cos.dispose();
  return Array.from(values, (c) => c >= stop.minCosine);
}

/**
 * How many of each row's states H [batch, m, d] to hand on: the index of the first state whose
 * next input R_in(h_s) is a stop (the states before it), at least 1; m for a row that never stops.
 * @example thoughtLengths(inner, h, stop) // [9, 20]
 */
export function thoughtLengths(
  innerLink: RecursiveLink,
  states: tf.Tensor3D,
  stop: LatentStop,
): number[] {
  const [batch, m] = states.shape;
  const cos = tf.tidy(() => stopSimilarity(applyLink(innerLink, states), stop));
  const rows = cos.arraySync() as number[][];
  cos.dispose();
  return Array.from({ length: batch }, (_, i) => {
    const first = rows[i]!.findIndex((c) => c >= stop.minCosine);
    return first < 0 ? m : Math.max(first, 1);
  });
}
