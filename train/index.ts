/**
 * train/: the inner and outer loops of RecursiveMAS, the LoRA and full fine-tuning baselines, and
 * the optimisation kit they share (AdamW, cosine schedule with warmup, clipping, accumulation,
 * checkpoints with exact resume, progress bar, loss curves as SVG).
 */
export {
  FullFinetune,
  LORA_TARGETS,
  LoraAdapters,
  type LoraOptions,
  type LoraTarget,
  type ModelAdaptation,
  modelParameterCount,
} from './adaptation.ts';
export {
  CHECKPOINT_FORMAT,
  type CheckpointState,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint.ts';
export { maskedCrossEntropy, maskedExactMatch } from './crossEntropy.ts';
export { TrainError, type TrainErrorCode } from './errors.ts';
export {
  type EncodedRoleText,
  encodeRoleText,
  type FrozenRoleTextPass,
  frozenRoleTextPass,
  type InnerLoopOptions,
  type InnerLossWeights,
  innerLinkLoss,
  innerLinkLossFromPass,
  innerLoopTrainer,
  type RoleText,
  type RoleTextBatch,
  roleTextBatch,
} from './inner.ts';
export {
  type RolloutInnerLoopOptions,
  rolloutInnerLoopTrainer,
  rolloutInnerLoss,
} from './innerRollout.ts';
export { AdamW, type AdamWConfig, type AdamWState } from './optim/adamw.ts';
export { clipByGlobalNorm, globalNorm } from './optim/clip.ts';
export { type CosineScheduleConfig, cosineWithWarmup } from './optim/schedule.ts';
export {
  type AnswerTargets,
  adaptationParameters,
  adaptedPlan,
  answerIds,
  appendAnswers,
  decoderAgent,
  evaluateOuter,
  linkParameters,
  NON_LAST_LOSS_WEIGHT,
  type OuterEvaluation,
  type OuterLoopOptions,
  type OuterLossOptions,
  type OuterMethod,
  outerLinks,
  outerLoopTrainer,
  outerLoss,
} from './outer.ts';
export {
  type Bar,
  barChartSvg,
  type LineChartOptions,
  type LinePoint,
  lineChartSvg,
  renderVegaLiteSvg,
  saveLossCurveSvg,
} from './plots.ts';
export { type ProgressBar, type ProgressOptions, progressBar } from './progress.ts';
export { type QAExample, type RelayTask, type RelayTaskOptions, relayTask } from './relayTask.ts';
export { epochOrder, SeededRandom } from './rng.ts';
export { roleTextCrossEntropy, type SftOptions, sftTrainer } from './sft.ts';
export {
  type InnerLinkStability,
  innerLinkStability,
  type TextHandoffPoint,
  type TextHandoffStability,
  textHandoffStability,
} from './stability.ts';
export {
  type BatchLoss,
  type LossContext,
  OFFICIAL_TRAIN_CONFIG,
  type StepReport,
  type TrainConfig,
  Trainer,
  type TrainerOptions,
} from './trainer.ts';
