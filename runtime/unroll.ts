/**
 * `unrollRounds`: the training view of a plan — n rounds over a batch, as one plain differentiable
 * computation through the very stage functions the stream engine runs (latent mode), with the
 * re-run-the-prefix rollout so every op stays on the gradient tape. It returns what the decoder
 * reads in the final round, so a trainer can append the target tokens and take the cross-entropy
 * through every round's links (issue 6).
 *
 * No RxJS, no early stop (training unrolls a fixed number of rounds), and no tensor is freed here:
 * call it inside `tf.variableGrads` / `tf.tidy`, which scope the memory.
 */
import type * as tf from '@tensorflow/tfjs';
import { RuntimeError } from './errors.ts';
import type { Request } from './messages.ts';
import type { TopologyPlan } from './plan.ts';
import type { RequestState } from './state.ts';

export interface UnrollOptions {
  /** Rounds to unroll; default the topology's `rounds.max`. */
  rounds?: number;
  /**
   * Keep the rollout on the gradient tape (re-run prefix, no KV cache). Default true; false runs
   * the KV-cached rollout (same values, no gradients), e.g. for evaluation.
   */
  differentiable?: boolean;
  /**
   * Also return the decoder's input at the end of every earlier round (what it would decode from
   * had the request stopped there), for losses on every round from one unroll. Default false.
   */
  everyRound?: boolean;
}

export interface UnrollResult {
  /**
   * The decoder's final-round input, left-padded: prompt ⊕ transferred latents ⊕ suffix
   * [batch, T, d_decoder] and mask [batch, T] (1 real, 0 padding).
   */
  inputsEmbeds: tf.Tensor3D;
  attentionMask: tf.Tensor2D;
  /**
   * Per round (index 0 is round 1): each agent that ran, its thoughts per request, [m, d_agent]
   * each (fewer than m rows where an agent's latent stop ended them early).
   */
  rounds: Array<Record<string, tf.Tensor2D[]>>;
  /** The trainable link variables (pass them to tf.variableGrads / optimizer.minimize). */
  variables: tf.Variable[];
  /**
   * With `everyRound`: the decoder's input at the end of rounds 1..n (the last is the same as
   * `inputsEmbeds`/`attentionMask`); the same values an unroll of r rounds would return.
   */
  decoderInputs?: Array<{ inputsEmbeds: tf.Tensor3D; attentionMask: tf.Tensor2D }>;
}

/**
 * Unrolls `rounds` rounds of a latent-mode plan over a batch of questions.
 * @example
 * const plan = buildPlan(ir, { agents, links, mode: 'latent' });
 * const { value, grads } = tf.variableGrads(() => {
 *   const { inputsEmbeds, attentionMask } = unrollRounds(plan, questions);
 *   return answerCrossEntropy(plan.contexts.get(plan.decoder)!.agent, inputsEmbeds, attentionMask, targets);
 * }, plan.variables);
 */
export function unrollRounds(
  plan: TopologyPlan,
  batch: readonly (Request | string)[],
  options: UnrollOptions = {},
): UnrollResult {
  if (plan.mode !== 'latent') {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      'unrollRounds needs a latent-mode plan (text hand-offs have no gradient)',
    );
  }
  const rounds = options.rounds ?? plan.rounds.max;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RuntimeError('INVALID_OPTIONS', `rounds must be an integer >= 1, got ${rounds}`);
  }
  if (batch.length === 0)
    throw new RuntimeError('INVALID_OPTIONS', 'unrollRounds needs a non-empty batch');
  const differentiable = options.differentiable ?? true;
  let states: RequestState[] = batch.map((item, i) =>
    plan.start(typeof item === 'string' ? { requestId: `unroll-${i}`, input: item } : item),
  );
  const trace: UnrollResult['rounds'] = [];
  const perRound: Array<{ inputsEmbeds: tf.Tensor3D; attentionMask: tf.Tensor2D }> = [];
  for (let round = 1; round <= rounds; round++) {
    const final = round === rounds;
    // The final round stops before the decoder decodes: its input is the result.
    const stages = final ? plan.finalStages.slice(0, -1) : plan.roundStages;
    for (const stage of stages) {
      const next = stage.run(states, { differentiable });
      if (next instanceof Promise) {
        throw new RuntimeError(
          'STAGE_CONTRACT',
          `stage ${stage.id} is asynchronous; unrollRounds runs latent stages only`,
        );
      }
      states = next;
    }
    const first = states[0]!;
    trace.push(
      Object.fromEntries(
        Object.keys(first.thoughts).map((agent) => [agent, states.map((s) => s.thoughts[agent]!)]),
      ),
    );
    if (!final) {
      if (options.everyRound) perRound.push(plan.decoderInput(states));
      states = states.map((s) => plan.advance(s));
    }
  }
  const { inputsEmbeds, attentionMask } = plan.decoderInput(states);
  const result: UnrollResult = {
    inputsEmbeds,
    attentionMask,
    rounds: trace,
    variables: plan.variables,
  };
  if (options.everyRound) result.decoderInputs = [...perRound, { inputsEmbeds, attentionMask }];
  return result;
}
