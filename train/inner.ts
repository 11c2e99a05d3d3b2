/**
 * The inner loop (paper §4, "model-level warm start"; official train_inner.py): one agent, its
 * model frozen, only its inner link R_in trains. Teacher-forced on the agent's role texts: one
 * forward pass over prompt ⊕ gold target, and for every position t whose next token t+1 is in the
 * target span, R_in(h_t) is pulled towards the input embedding of token t+1:
 *
 *   L_in = cosWeight · mean_t (1 − cos(R_in(h_t), Emb(y_{t+1}))) + mseWeight · mean_t mean_d (R_in(h_t) − Emb(y_{t+1}))²
 *
 * (official defaults: cosWeight 1, mseWeight 0). The mean runs over the masked pairs of the batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, CausalLM, Tokenizer } from '../models/types.ts';
import { applyLink, type RecursiveLink } from '../operators/links/recursiveLink.ts';
import { padLeftIds } from '../operators/prompt/splice.ts';
import { TrainError } from './errors.ts';
import { type TrainConfig, Trainer, type TrainerOptions } from './trainer.ts';

/** One role text: the agent's prompt (a user message) and the gold text it should think. */
export interface RoleText {
  prompt: string;
  target: string;
}

/** A role text as token ids: chat-templated prompt ⊕ target ⊕ end-of-turn; the target starts at `targetStart`. */
export interface EncodedRoleText {
  ids: number[];
  targetStart: number;
}

/**
 * Tokenizes a role text the way the agent reads it: the chat template with the prompt as the user
 * turn and the generation prompt, then the target and the first stop token.
 *
 * @example
 * const { ids, targetStart } = encodeRoleText(agent.tokenizer, { prompt: 'Plan: 2+3?', target: 'Add 2 and 3.' });
 */
export function encodeRoleText(tokenizer: Tokenizer, text: RoleText): EncodedRoleText {
  const rendered = tokenizer.applyChatTemplate([{ role: 'user', content: text.prompt }], {
    addGenerationPrompt: true,
  });
  const promptIds = tokenizer.encode(rendered, { addSpecialTokens: false });
  const targetIds = tokenizer.encode(text.target, { addSpecialTokens: false });
  if (targetIds.length === 0) {
    throw new TrainError(
      'INVALID_CONFIG',
      `role text target is empty (prompt: ${JSON.stringify(text.prompt.slice(0, 40))})`,
    );
  }
  const eos = tokenizer.eosTokenIds[0];
  return {
    ids: [...promptIds, ...targetIds, ...(eos === undefined ? [] : [eos])],
    targetStart: promptIds.length,
  };
}

/** A left-padded batch of role texts. */
export interface RoleTextBatch {
  /** [batch, T] int32 */
  inputIds: tf.Tensor2D;
  /** [batch, T], 1 real / 0 padding */
  attentionMask: tf.Tensor2D;
  /** [batch, T], 1 on target tokens */
  targetMask: tf.Tensor2D;
}

/**
 * Pads role texts into one batch (left padding, as everywhere else). Caller owns the tensors.
 *
 * @example const batch = roleTextBatch(encoded, tokenizer.padTokenId);
 */
export function roleTextBatch(texts: readonly EncodedRoleText[], padId: number): RoleTextBatch {
  const { inputIds, attentionMask } = padLeftIds(
    texts.map((t) => t.ids),
    padId,
  );
  const longest = inputIds.shape[1];
  const target = new Float32Array(texts.length * longest);
  texts.forEach((t, r) => {
    const offset = longest - t.ids.length;
    target.fill(1, r * longest + offset + t.targetStart, (r + 1) * longest);
  });
  return { inputIds, attentionMask, targetMask: tf.tensor2d(target, [texts.length, longest]) };
}

export interface InnerLossWeights {
  /** Default 1. */
  cos?: number;
  /** Default 0 (the official default). */
  mse?: number;
}

/**
 * The inner-loop loss of a batch (a scalar; caller owns). The model runs frozen: only the link's
 * variables are on a path to the loss.
 *
 * @example
 * const loss = innerLinkLoss(agent.model, inner, batch); // inside tf.variableGrads
 */
export function innerLinkLoss(
  model: CausalLM,
  link: RecursiveLink,
  batch: RoleTextBatch,
  weights: InnerLossWeights = {},
): tf.Scalar {
  return tf.tidy(() => {
    const { hidden } = model.forward({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
    }); // [b, T, d]
    const embeds = model.embed(batch.inputIds); // [b, T, d]
    return innerLinkLossFromPass(link, { hidden, embeds, ...batch }, weights);
  });
}

/** What the inner loss needs from the frozen model: its states and input embeddings of the batch. */
export interface FrozenRoleTextPass extends RoleTextBatch {
  /** [batch, T, d] last-layer states */
  hidden: tf.Tensor3D;
  /** [batch, T, d] input embeddings of the tokens */
  embeds: tf.Tensor3D;
}

/**
 * Pads a batch and runs the frozen model over it (caller owns the tensors; run it outside any
 * gradient tape so the activations are not kept, as the official code's torch.no_grad).
 *
 * @example const pass = frozenRoleTextPass(agent.model, encoded, agent.tokenizer.padTokenId);
 */
export function frozenRoleTextPass(
  model: CausalLM,
  texts: readonly EncodedRoleText[],
  padId: number,
): FrozenRoleTextPass {
  const batch = roleTextBatch(texts, padId);
  const { hidden } = model.forward({
    inputIds: batch.inputIds,
    attentionMask: batch.attentionMask,
  });
  return { ...batch, hidden, embeds: model.embed(batch.inputIds) };
}

/**
 * The inner loss from a frozen pass: only the link runs here (on the tape).
 *
 * @example const loss = innerLinkLossFromPass(inner, pass, { cos: 1, mse: 0 });
 */
export function innerLinkLossFromPass(
  link: RecursiveLink,
  pass: FrozenRoleTextPass,
  weights: InnerLossWeights = {},
): tf.Scalar {
  const cosWeight = weights.cos ?? 1;
  const mseWeight = weights.mse ?? 0;
  return tf.tidy(() => {
    const [b, T, d] = pass.hidden.shape;
    const preds = applyLink(link, pass.hidden.slice([0, 0, 0], [b, T - 1, d])); // R_in(h_t), [b, T-1, d]
    const targets = pass.embeds.slice([0, 1, 0], [b, T - 1, d]); // Emb(y_{t+1})
    const pairMask = tf.mul(
      pass.targetMask.slice([0, 1], [b, T - 1]),
      pass.attentionMask.slice([0, 0], [b, T - 1]),
    ); // [b, T-1]
    const count = tf.maximum(tf.sum(pairMask), 1);
    const maskedMean = (values: tf.Tensor) => tf.div(tf.sum(tf.mul(values, pairMask)), count);
    const dot = tf.sum(tf.mul(preds, targets), -1);
    const norms = tf.mul(tf.norm(preds, 'euclidean', -1), tf.norm(targets, 'euclidean', -1));
    const cosine = tf.div(dot, tf.maximum(norms, 1e-8)); // torch F.cosine_similarity, eps 1e-8
    let loss = tf.mul(maskedMean(tf.sub(1, cosine)), cosWeight);
    if (mseWeight !== 0) {
      const mse = tf.mean(tf.square(tf.sub(preds, targets)), -1);
      loss = tf.add(loss, tf.mul(maskedMean(mse), mseWeight));
    }
    return loss as tf.Scalar;
  });
}

export interface InnerLoopOptions {
  config: Partial<TrainConfig> & Pick<TrainConfig, 'steps' | 'batchSize' | 'seed'>;
  weights?: InnerLossWeights;
  progress?: TrainerOptions<EncodedRoleText, FrozenRoleTextPass>['progress'];
}

/** Throws unless `link` is an inner link of the agent's hidden size. */
export function checkInnerLink(agent: Agent, link: RecursiveLink): void {
  if (link.kind !== 'inner' || link.inDim !== agent.model.config.hiddenSize) {
    throw new TrainError(
      'INVALID_CONFIG',
      `agent '${agent.name}' (hidden ${agent.model.config.hiddenSize}) needs an inner link of that size, got ${link.kind} ${link.inDim}->${link.outDim}`,
    );
  }
}

/**
 * A Trainer for one agent's inner link on its role texts. The link must be an inner link of the
 * agent's hidden size; its variables are the only ones that train.
 *
 * @example
 * const trainer = innerLoopTrainer(planner, inner, roleTexts, { config: { steps: 200, batchSize: 4, seed: 1 } });
 * trainer.run();
 */
export function innerLoopTrainer(
  agent: Agent,
  link: RecursiveLink,
  texts: readonly RoleText[],
  options: InnerLoopOptions,
): Trainer<EncodedRoleText, FrozenRoleTextPass> {
  checkInnerLink(agent, link);
  const encoded = texts.map((t) => encodeRoleText(agent.tokenizer, t));
  return new Trainer<EncodedRoleText, FrozenRoleTextPass>({
    params: link.namedParameters(),
    data: encoded,
    config: options.config,
    ...(options.progress !== undefined ? { progress: options.progress } : {}),
    // The frozen forward runs off the tape (torch.no_grad in the official code).
    prepare: (batch) => frozenRoleTextPass(agent.model, batch, agent.tokenizer.padTokenId),
    loss: (pass) => innerLinkLossFromPass(link, pass, options.weights),
  });
}
