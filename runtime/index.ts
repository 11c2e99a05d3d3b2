/**
 * runtime/: a topology IR compiled into an RxJS operator from requests to answers, and the same
 * plan unrolled for training.
 * - `compile(topology, options)`: the operator (latent or text mode; micro-batching; a bounded
 *   queue with a named policy; recursive rounds as a feedback loop in the stream).
 * - `buildPlan` / `unrollRounds`: the plan's pure, batched stage functions, and n rounds of them as
 *   one differentiable computation (what the trainer differentiates).
 * - `interpret`: the reference interpreter (plain loops, one request at a time).
 * - `runPlan`: the stream engine over any plan (stub plans in tests).
 * - backend/: the TensorFlow.js backend (`initBackend()` before the first op).
 *
 * @example
 * await initBackend();
 * const t = sequential({ planner: { model: 'tiny-planner-96', hiddenSize: 96 }, ... });
 * requests$.pipe(compile(t, { mode: 'latent' })).subscribe((a) => console.log(a.requestId, a.text));
 */
export {
  type AgentRegistry,
  type AgentRegistryOptions,
  agentRegistry,
  checkAgents,
  resolveAgents,
} from './agents.ts';
export * from './backend/index.ts';
export {
  type CompileOptions,
  compile,
  type LinksOption,
  type PreparedPlan,
  preparePlan,
} from './compile.ts';
export { changeOfFeedback } from './convergence.ts';
export { type CreditPort, creditSource } from './credit.ts';
export { type Decoded, decodeWithTools } from './decoding.ts';
export {
  type BatchEvent,
  type BatchingOptions,
  type EngineOptions,
  QUEUE_POLICIES,
  type QueueOptions,
  type QueuePolicy,
  runPlan,
} from './engine.ts';
export { errorCode, RuntimeError, type RuntimeErrorCode } from './errors.ts';
export { type InterpretOptions, interpret } from './interpreter.ts';
export {
  type CreateLinksOptions,
  checkLinks,
  createLinks,
  disposeLinks,
  type LinkRequirement,
  type LinkSet,
  linkFileStem,
  linkRequirements,
  linkVariables,
  linkVariant,
  loadLinks,
  saveLinks,
} from './links.ts';
export {
  type Answer,
  type AnswerUsage,
  answerUsage,
  checkRequest,
  type Request,
  type RoundInfo,
} from './messages.ts';
export { type BuildPlanOptions, buildPlan, checkedIR, type TopologyPlan } from './plan.ts';
export { slottedPrompt, textPromptIds } from './prompt.ts';
export type { Plan, Stage, StageRunOptions } from './stage.ts';
export {
  type AgentContext,
  type DecodeSettings,
  decoderInputs,
  type InputContext,
} from './stages.ts';
export { initialState, type RequestState, stateTensors } from './state.ts';
export { type UnrollOptions, type UnrollResult, unrollRounds } from './unroll.ts';
export {
  type PoolCompileOptions,
  startWorkerPool,
  type WorkerBatchEvent,
  type WorkerPool,
  type WorkerPoolOptions,
} from './workers/pool.ts';
