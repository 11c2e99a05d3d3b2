/**
 * The inner loop through the agent's own rollout (an rmas addition after the official
 * teacher-forced inner loop). Teacher forcing trains R_in on states computed from true token
 * embeddings; at inference the states come from R_in's own outputs, and a small error early in a
 * rollout moves every later state (exposure bias: a tiny agent then writes a wrong digit a few
 * thoughts later). Here the rollout itself is on the tape: the prompt, then R_in(h) fed back
 * (the uncached, differentiable rollout), and at every step s of the gold text
 *
 *   L = mean_s (1 − cos(R_in(h_s), Emb(y_s)))
 *
 * so the link learns the inputs that keep its own rollout on the gold text, end-of-text included
 * (which the latent stop reads). The model stays frozen; only the link trains.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent } from '../models/types.ts';
import { latentRolloutUncached } from '../operators/latentThoughts.ts';
import { applyLink, type RecursiveLink } from '../operators/links/recursiveLink.ts';
import { padLeftIds } from '../operators/prompt/splice.ts';
import { checkInnerLink, type EncodedRoleText, encodeRoleText, type RoleText } from './inner.ts';
import { type TrainConfig, Trainer, type TrainerOptions } from './trainer.ts';

/**
 * The loss of a batch of encoded role texts (a scalar; call inside tf.variableGrads).
 * @example const loss = rolloutInnerLoss(agent, inner, encoded.slice(0, 8));
 */
export function rolloutInnerLoss(
  agent: Agent,
  link: RecursiveLink,
  batch: readonly EncodedRoleText[],
): tf.Scalar {
  const { model } = agent;
  const prompts = batch.map((t) => t.ids.slice(0, t.targetStart));
  const golds = batch.map((t) => t.ids.slice(t.targetStart)); // target ⊕ end-of-turn
  const steps = Math.max(...golds.map((g) => g.length));
  return tf.tidy(() => {
    const { inputIds, attentionMask } = padLeftIds(prompts, agent.tokenizer.padTokenId);
    const inputsEmbeds = model.embed(inputIds);
    const states = latentRolloutUncached(model, link, { inputsEmbeds, attentionMask }, steps);
    const predictions = applyLink(link, states); // R_in(h_s): [b, steps, d]
    const padded = golds.map((g) => [...g, ...new Array(steps - g.length).fill(g[0]!)]);
    const targets = model.embed(tf.tensor2d(padded, [batch.length, steps], 'int32')); // [b, steps, d]
    const valid = tf.tensor2d(
      golds.map((g) => Array.from({ length: steps }, (_, s) => (s < g.length ? 1 : 0))),
      [batch.length, steps],
    );
    const dot = tf.sum(tf.mul(predictions, targets), -1);
    const norms = tf.mul(tf.norm(predictions, 'euclidean', -1), tf.norm(targets, 'euclidean', -1));
    const cosine = tf.div(dot, tf.maximum(norms, 1e-8));
    const loss = tf.div(tf.sum(tf.mul(tf.sub(1, cosine), valid)), tf.maximum(tf.sum(valid), 1));
    return loss as tf.Scalar;
  });
}

export interface RolloutInnerLoopOptions {
  config: Partial<TrainConfig> & Pick<TrainConfig, 'steps' | 'batchSize' | 'seed'>;
  progress?: TrainerOptions<EncodedRoleText>['progress'];
}

/**
 * A Trainer of one agent's inner link through its own rollouts on its role texts.
 * @example rolloutInnerLoopTrainer(planner, inner, texts, { config: { steps: 200, batchSize: 8, seed: 1 } }).run();
 */
export function rolloutInnerLoopTrainer(
  agent: Agent,
  link: RecursiveLink,
  texts: readonly RoleText[],
  options: RolloutInnerLoopOptions,
): Trainer<EncodedRoleText> {
  checkInnerLink(agent, link);
  return new Trainer<EncodedRoleText>({
    params: link.namedParameters(),
    data: texts.map((t) => encodeRoleText(agent.tokenizer, t)),
    config: options.config,
    ...(options.progress !== undefined ? { progress: options.progress } : {}),
    loss: (batch) => rolloutInnerLoss(agent, link, batch),
  });
}
