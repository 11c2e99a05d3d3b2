/**
 * Full training of a tiny decoder from scratch on its role texts, with train/'s kit (FullFinetune's
 * trainable weights, the Trainer's AdamW, cosine warmup, clipping, seeded order, checkpoints).
 *
 * Two savings that make it fit in minutes on one wasm core: micro-batches are formed from texts
 * of similar length (little padding), and the LM head and cross-entropy run only at the positions
 * whose next token is a target token (a role text's prompt is most of its length; the official SFT
 * masks those positions out of the loss anyway, so the loss is the same).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Agent, CausalLM } from '../../models/types.ts';
import { FullFinetune } from '../../train/adaptation.ts';
import { type EncodedRoleText, roleTextBatch } from '../../train/inner.ts';
import { SeededRandom } from '../../train/rng.ts';
import { type StepReport, Trainer } from '../../train/trainer.ts';
import { encodeTaggedText, type TaggedRoleText } from './roleTexts.ts';

/** A micro-batch of texts of similar length, and where its loss is taken. */
export interface TargetBatch {
  /** [b, T] int32, left-padded */
  inputIds: tf.Tensor2D;
  /** [b, T] */
  attentionMask: tf.Tensor2D;
  /** [N] int32: flat indices b·T + t of the positions t whose next token is a target token */
  positions: tf.Tensor1D;
  /** [N] int32: those next tokens */
  labels: tf.Tensor1D;
}

/**
 * Pads a group of encoded texts and lists the (position, next token) pairs of their targets.
 * Caller owns the tensors.
 *
 * @example const batch = targetBatch(encoded.slice(0, 16), tokenizer.padTokenId);
 */
export function targetBatch(texts: readonly EncodedRoleText[], padId: number): TargetBatch {
  const { inputIds, attentionMask, targetMask } = roleTextBatch(texts, padId);
  targetMask.dispose();
  const T = inputIds.shape[1];
  const positions: number[] = [];
  const labels: number[] = [];
  texts.forEach((text, row) => {
    const offset = T - text.ids.length;
    for (let i = Math.max(text.targetStart, 1); i < text.ids.length; i++) {
      positions.push(row * T + offset + i - 1);
      labels.push(text.ids[i]!);
    }
  });
  return {
    inputIds,
    attentionMask,
    positions: tf.tensor1d(positions, 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

/**
 * Mean next-token cross-entropy over the batch's target positions (caller owns the scalar).
 *
 * @example const loss = targetCrossEntropy(full.model(), batch); // inside tf.variableGrads
 */
export function targetCrossEntropy(model: CausalLM, batch: TargetBatch): tf.Scalar {
  return tf.tidy(() => {
    const { hidden } = model.forward({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
    }); // [b, T, d]
    const [b, T, d] = hidden.shape;
    const picked = tf.gather(hidden.reshape([b * T, d]), batch.positions); // [N, d]
    const logits = model.lmHead(picked) as tf.Tensor2D; // [N, V]
    const logProbs = tf.logSoftmax(logits);
    const vocab = logits.shape[1];
    return tf.neg(
      tf.mean(tf.sum(tf.mul(logProbs, tf.oneHot(batch.labels, vocab)), -1)),
    ) as tf.Scalar;
  });
}

/**
 * Groups encoded texts into micro-batches of `batchSize` texts of similar length: a seeded
 * shuffle, then sorted by length within windows of 32 batches, then cut.
 *
 * @example const groups = lengthBuckets(encoded, 16, 1);
 */
export function lengthBuckets(
  texts: readonly EncodedRoleText[],
  batchSize: number,
  seed: number,
): EncodedRoleText[][] {
  const shuffled = new SeededRandom(seed).shuffle(texts);
  const window = batchSize * 32;
  const groups: EncodedRoleText[][] = [];
  for (let start = 0; start < shuffled.length; start += window) {
    const sorted = shuffled
      .slice(start, start + window)
      .sort((a, b) => a.ids.length - b.ids.length);
    for (let i = 0; i + batchSize <= sorted.length; i += batchSize) {
      groups.push(sorted.slice(i, i + batchSize));
    }
  }
  return groups;
}

export interface TrainNetworkOptions {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  seed: number;
  /** Called after each optimizer step. */
  onStep?: (report: StepReport) => void;
  progress?: boolean;
  /** Saves a checkpoint here every `checkpointEvery` steps, and resumes from it when it exists. */
  checkpointDir?: string;
  checkpointEvery?: number;
}

/**
 * Trains every weight of `agent.model` on the texts; returns the loss history. The agent's model
 * is left with the trained weights (its tensors are replaced by the trained ones).
 *
 * @example
 * const { model } = await trainNetwork(agent, texts, { steps: 2000, batchSize: 16, lr: 2e-3, ... });
 * saveAgent({ ...agent, model }, dir, { dtype: 'F16' });
 */
export async function trainNetwork(
  agent: Agent,
  texts: readonly TaggedRoleText[],
  options: TrainNetworkOptions,
): Promise<{ model: CausalLM; full: FullFinetune; history: number[] }> {
  const encoded = texts.map((t) => encodeTaggedText(agent.tokenizer, t));
  const groups = lengthBuckets(encoded, options.batchSize, options.seed);
  const full = new FullFinetune(agent.model);
  const trainer = new Trainer<EncodedRoleText[], TargetBatch>({
    params: full.namedParameters(),
    data: groups,
    config: {
      steps: options.steps,
      batchSize: 1,
      seed: options.seed,
      lr: options.lr,
      warmupSteps: options.warmupSteps,
      weightDecay: options.weightDecay,
      betas: [0.9, 0.98],
    },
    progress: options.progress === false ? false : { label: agent.name },
    prepare: ([group]) => targetBatch(group!, agent.tokenizer.padTokenId),
    loss: (batch) => targetCrossEntropy(full.model(), batch),
  });
  const { checkpointDir, checkpointEvery = 250 } = options;
  if (checkpointDir !== undefined && existsSync(path.join(checkpointDir, 'checkpoint.json'))) {
    await trainer.resume(checkpointDir);
  }
  while (trainer.step < options.steps) {
    const until = Math.min(options.steps, trainer.step + checkpointEvery);
    trainer.run(until, options.onStep);
    if (checkpointDir !== undefined) await trainer.save(checkpointDir);
  }
  trainer.dispose();
  return { model: full.model(), full, history: [...trainer.history] };
}
