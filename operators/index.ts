/**
 * operators/: the RecursiveMAS method as RxJS operators over typed messages, each with the pure
 * tensor function beside it (what training and the runtime call inside tf.grad / batched passes).
 *
 * Streams carry `Batch<T>` (arrays of per-request messages, possibly with `ErrorRecord`s that
 * pass through). A message owns its tensors; an operator that consumes a message disposes them;
 * the subscriber owns what it receives. Pure functions borrow their inputs.
 *
 * @example
 * const planner$ = turns$.pipe(
 *   latentThoughts(planner, inner1, { steps: 32 }),            // TurnRequest -> LatentMessage (hidden)
 *   latentTransfer(inner1, outer12, { to: 'critic' }),         // R_out(R_in(H)) -> (embedding)
 * );
 * // next: withLatents(criticTurn, PLANNER_SLOT, message) ... decodeAnswer(solver, sampling)
 */
export {
  decodeAnswer,
  type GeneratedTurn,
  generateForTurns,
} from './decodeAnswer.ts';
export { OperatorError, type OperatorErrorCode } from './errors.ts';
export {
  innerLinkJacobianNorm,
  jacobianSpectralNorm,
  modelTextHandoff,
  type RowMap,
  rowMapJacobian,
  spectralNorm,
  textHandoff,
  textHandoffJacobianNorm,
} from './jacobian.ts';
export { isStop, type LatentStop, latentStopOf, thoughtLengths } from './latentStop.ts';
export {
  type LatentThoughtsOptions,
  latentRollout,
  latentRolloutUncached,
  latentThoughts,
  type RolloutInput,
} from './latentThoughts.ts';
export {
  type LatentTransferOptions,
  latentTransfer,
  transferLatents,
} from './latentTransfer.ts';
export { gelu } from './links/gelu.ts';
export { type LayerNormParams, layerNorm, TORCH_LAYER_NORM_EPS } from './links/layerNorm.ts';
export {
  deserializeLink,
  LINK_MANIFEST_FORMAT,
  type LinkManifest,
  loadLink,
  saveLink,
  serializeLink,
} from './links/linkStore.ts';
export {
  applyLink,
  createRecursiveLink,
  DEFAULT_LINK_VARIANT,
  INNER_LINK_VARIANTS,
  type InnerLinkVariant,
  type LinearParams,
  type LinkInit,
  type LinkKind,
  type LinkOptions,
  type LinkSpec,
  type LinkStructure,
  type LinkVariant,
  linkStructure,
  normalizeLinkVariant,
  OUTER_LINK_VARIANTS,
  type OuterLinkVariant,
  RecursiveLink,
  resolveLinkSpec,
} from './links/recursiveLink.ts';
export { ridgeRegression, solveRidge } from './links/ridge.ts';
export {
  hiddenStateStd,
  type InnerRidgeOptions,
  initInnerLinkFromRidge,
  initOuterLinkFromRidge,
  LATENT_REALIGN_LAMBDA,
  type LatentRealignment,
  LINEAR_REGIME_EPSILON,
  latentRealignment,
  type OuterRidgeFit,
  type OuterRidgeOptions,
  outerRidgeFit,
} from './links/ridgeInit.ts';
export {
  fitOuterLinkToTranslation,
  type TranslationFitOptions,
  type TranslationPairs,
  tokenTranslationPairs,
} from './links/translationInit.ts';
export {
  type AnswerMessage,
  type Batch,
  disposeTurn,
  type ErrorRecord,
  errorRecord,
  isErrorRecord,
  type LatentMessage,
  mergeUsage,
  type TextMessage,
  type TurnRequest,
  turnRequest,
  withLatents,
  withText,
} from './messages.ts';
export {
  FEEDBACK_SLOT,
  fillTextSlots,
  PLANNER_SLOT,
  type PromptPiece,
  padLeftEmbeds,
  padLeftIds,
  REFINED_SLOT,
  SLOT_PATTERN,
  type SlottedPrompt,
  spliceLatents,
  splitPromptAtSlots,
} from './prompt/splice.ts';
export { type PreparedTurn, prepareTurns } from './prompt/turnInputs.ts';
export { elapsedMs, runBatch } from './runBatch.ts';
export { textTurn } from './textTurn.ts';
export * from './tools/index.ts';
export {
  attentionFlops,
  decodeFlops,
  decodingVsLatentStepFlops,
  denseFlopsPerPosition,
  type ForwardShape,
  forwardFlops,
  latentRolloutFlops,
  linkFlops,
  lmHeadFlops,
  uncachedLatentRolloutFlops,
} from './usage/flops.ts';
export {
  groupUsage,
  sumUsage,
  type UsageEntry,
  UsageLedger,
  type UsagePhase,
  type UsageTotals,
} from './usage/ledger.ts';
