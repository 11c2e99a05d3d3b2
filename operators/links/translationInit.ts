/**
 * Token-translation fit of an outer link: the link is trained (a few hundred full-batch Adam
 * steps, seconds) to map each sender token's input embedding onto the receiver's input embedding
 * of the same piece of text, so that at init the receiver reads the sender's latent thoughts
 * (which the inner link puts near the sender's token embeddings) as the sender's words.
 *
 * Pairs come from sample text, token by token in context: the piece of text a sender token covers
 * is encoded by the receiver's tokenizer and paired with its last non-blank token (a byte-level
 * tokenizer may spend a token on the space before a digit; the content token is what matters),
 * or its last token when the piece is blank. The first piece is read after a space, as the
 * receiver's prompt has one before each slot.
 * A sender token seen with several receiver tokens keeps the most frequent. Unlike the ridge fit
 * (ridgeInit.ts, linear in word means), this fits the link itself, every variant, non-linearly.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent } from '../../models/types.ts';
import { OperatorError } from '../errors.ts';
import { applyLink, type RecursiveLink } from './recursiveLink.ts';

export interface TranslationPairs {
  /** Sender token ids, unique. */
  sourceIds: number[];
  /** The receiver token each one translates to. */
  targetIds: number[];
}

/**
 * Token pairs between two agents' vocabularies over sample text (see the file comment).
 * @example tokenTranslationPairs(planner, critic, ['ele - ele = 5 - 5 = 0']).sourceIds.length // 6
 */
export function tokenTranslationPairs(
  source: Agent,
  target: Agent,
  texts: readonly string[],
): TranslationPairs {
  const counts = new Map<number, Map<number, number>>();
  for (const text of texts) {
    const ids = source.tokenizer.encode(text, { addSpecialTokens: false });
    let before = '';
    for (let k = 0; k < ids.length; k++) {
      const upTo = source.tokenizer.decode(ids.slice(0, k + 1), { skipSpecialTokens: true });
      let piece = upTo.startsWith(before) ? upTo.slice(before.length) : '';
      before = upTo;
      // In the receiver's prompt a slot's text follows a space (runtime/prompt.ts).
      if (k === 0 && !/^\s/.test(piece)) piece = ` ${piece}`;
      if (piece.length === 0) continue;
      const targetIds = target.tokenizer.encode(piece, { addSpecialTokens: false });
      // The content token, or the last one for a piece that is all blank (a space token).
      const content =
        targetIds.findLast(
          (id) => target.tokenizer.decode([id], { skipSpecialTokens: true }).trim().length > 0,
        ) ?? targetIds.at(-1);
      if (content === undefined) continue;
      const seen = counts.get(ids[k]!) ?? new Map<number, number>();
      seen.set(content, (seen.get(content) ?? 0) + 1);
      counts.set(ids[k]!, seen);
    }
  }
  const sourceIds: number[] = [];
  const targetIds: number[] = [];
  for (const [sourceId, seen] of counts) {
    sourceIds.push(sourceId);
    targetIds.push([...seen].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0]);
  }
  return { sourceIds, targetIds };
}

export interface TranslationFitOptions {
  source: Agent;
  target: Agent;
  /** Sample text the token pairs are drawn from. */
  texts: readonly string[];
  /** Default 400. */
  steps?: number;
  /** Adam learning rate; default 3e-3. */
  learningRate?: number;
}

/**
 * Fits an outer link to the token translation between two agents (see the file comment): loss
 * 1 − cos(R_out(x), y) + ‖R_out(x) − y‖² / (mean ‖y‖)², full batch. Returns the final loss and
 * the number of pairs. Changes the link's variables in place.
 *
 * @example
 * const outer = createRecursiveLink({ kind: 'outer', inDim: 96, outDim: 128 });
 * fitOuterLinkToTranslation(outer, { source: planner, target: critic, texts });
 */
export function fitOuterLinkToTranslation(
  link: RecursiveLink,
  options: TranslationFitOptions,
): { loss: number; pairs: number } {
  const { source, target } = options;
  if (
    link.kind !== 'outer' ||
    link.inDim !== source.model.config.hiddenSize ||
    link.outDim !== target.model.config.hiddenSize
  ) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `fitOuterLinkToTranslation needs an outer link ${source.model.config.hiddenSize}->${target.model.config.hiddenSize}, got ${link.kind} ${link.inDim}->${link.outDim}`,
    );
  }
  const { sourceIds, targetIds } = tokenTranslationPairs(source, target, options.texts);
  if (sourceIds.length === 0) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      'fitOuterLinkToTranslation: no token pairs in the sample texts',
    );
  }
  const embed = (agent: Agent, ids: number[]) =>
    agent.model
      .embed(tf.tensor2d([ids], [1, ids.length], 'int32'))
      .reshape([ids.length, agent.model.config.hiddenSize]) as tf.Tensor2D;
  const [x, y] = tf.tidy(() => [embed(source, sourceIds), embed(target, targetIds)]);
  const scale = tf.tidy(() => tf.mean(tf.norm(y!, 'euclidean', -1)).dataSync()[0]!);
  const optimizer = tf.train.adam(options.learningRate ?? 3e-3);
  let loss = Number.NaN;
  try {
    const steps = options.steps ?? 400;
    for (let step = 0; step < steps; step++) {
      const value = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const out = applyLink(link, x!);
            const unit = (t: tf.Tensor) => t.div(t.norm('euclidean', -1, true).add(1e-12));
            const cosine = tf.sum(tf.mul(unit(out), unit(y!)), -1);
            const squared = tf.sum(tf.square(tf.sub(out, y!)), -1).div(scale * scale);
            return tf.mean(tf.add(tf.sub(1, cosine), squared)) as tf.Scalar;
          }),
        step === steps - 1,
        link.variables,
      );
      if (value) {
        loss = value.dataSync()[0]!;
        value.dispose();
      }
    }
  } finally {
    optimizer.dispose();
    tf.dispose([x!, y!]);
  }
  return { loss, pairs: sourceIds.length };
}
