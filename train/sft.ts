/**
 * Supervised fine-tuning of one agent on its role texts (the per-agent baselines of the paper's
 * Table 5): cross-entropy on the target tokens, with LoRA adapters or every weight trainable.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, CausalLM } from '../models/types.ts';
import type { ModelAdaptation } from './adaptation.ts';
import { maskedCrossEntropy } from './crossEntropy.ts';
import {
  type EncodedRoleText,
  encodeRoleText,
  type RoleText,
  type RoleTextBatch,
  roleTextBatch,
} from './inner.ts';
import { type TrainConfig, Trainer, type TrainerOptions } from './trainer.ts';

/**
 * Next-token cross-entropy on the target span of a role-text batch: position t predicts token
 * t+1 wherever t+1 is a target token (caller owns the scalar).
 *
 * @example const loss = roleTextCrossEntropy(lora.model(), batch); // inside tf.variableGrads
 */
export function roleTextCrossEntropy(model: CausalLM, batch: RoleTextBatch): tf.Scalar {
  return tf.tidy(() => {
    const [b, T] = batch.inputIds.shape;
    const { logits } = model.forward({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      returnLogits: true,
    });
    const vocab = logits!.shape[2];
    const mask = tf.mul(
      batch.targetMask.slice([0, 1], [b, T - 1]),
      batch.attentionMask.slice([0, 0], [b, T - 1]),
    ) as tf.Tensor2D;
    return maskedCrossEntropy(
      logits!.slice([0, 0, 0], [b, T - 1, vocab]),
      batch.inputIds.slice([0, 1], [b, T - 1]),
      mask,
    );
  });
}

export interface SftOptions {
  config: Partial<TrainConfig> & Pick<TrainConfig, 'steps' | 'batchSize' | 'seed'>;
  progress?: TrainerOptions<EncodedRoleText, RoleTextBatch>['progress'];
}

/**
 * A Trainer fine-tuning one agent (through a LoRA or full adaptation of its model) on role texts.
 *
 * @example
 * const lora = new LoraAdapters(planner.model, { rank: 8 });
 * sftTrainer(planner, lora, roleTexts, { config: { steps: 100, batchSize: 4, seed: 1 } }).run();
 */
export function sftTrainer(
  agent: Agent,
  adaptation: ModelAdaptation,
  texts: readonly RoleText[],
  options: SftOptions,
): Trainer<EncodedRoleText, RoleTextBatch> {
  return new Trainer<EncodedRoleText, RoleTextBatch>({
    params: adaptation.namedParameters(),
    data: texts.map((t) => encodeRoleText(agent.tokenizer, t)),
    config: options.config,
    ...(options.progress !== undefined ? { progress: options.progress } : {}),
    prepare: (batch) => roleTextBatch(batch, agent.tokenizer.padTokenId),
    loss: (batch) => roleTextCrossEntropy(adaptation.model(), batch),
  });
}
