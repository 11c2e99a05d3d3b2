/**
 * The outer loop (paper §4, "system-level"; official train/outer/sequential.py): agents and inner
 * links frozen, the looped system unrolled for n rounds through the runtime's own plan
 * (`unrollRounds`, the stage functions the stream engine runs), and the cross-entropy of the
 * decoder's gold answer taken on the final round — or, with `superviseFinalOnly: false`, plus
 * 0.1 × the mean of the earlier rounds' — so every outer link gets its gradient through every
 * round it takes part in (the feedback link only through round r → r + 1).
 *
 * Teacher forcing: the gold answer's embeddings are appended after the decoder's final-round input
 * (prompt ⊕ latents ⊕ suffix), and position T − 1 + j predicts answer token j.
 *
 * The baselines run the same unroll with the links frozen and the agents adapted instead (LoRA or
 * full fine-tuning): the plan is rebuilt inside the gradient scope over the adapted models.
 */
import * as tf from '@tensorflow/tfjs';
import type { TopologyIR } from '../dsl/ir.ts';
import type { Agent, CausalLM } from '../models/types.ts';
import type { LinkSet } from '../runtime/links.ts';
import { buildPlan, type TopologyPlan } from '../runtime/plan.ts';
import { unrollRounds } from '../runtime/unroll.ts';
import type { ModelAdaptation } from './adaptation.ts';
import { maskedCrossEntropy, maskedExactMatch } from './crossEntropy.ts';
import { TrainError } from './errors.ts';
import type { QAExample } from './relayTask.ts';
import { type TrainConfig, Trainer, type TrainerOptions } from './trainer.ts';

/** The official weight of the earlier rounds' mean CE when `superviseFinalOnly` is off. */
export const NON_LAST_LOSS_WEIGHT = 0.1;

/** Teacher-forced answer positions after a left-padded decoder input. */
export interface AnswerTargets {
  /** [b, T + A, d]: input ⊕ answer embeddings (answers right-padded with zeros). */
  inputsEmbeds: tf.Tensor3D;
  /** [b, T + A] */
  attentionMask: tf.Tensor2D;
  /** [b, T + A] int32: at position T − 1 + j, answer token j. */
  labels: tf.Tensor2D;
  /** [b, T + A]: 1 where a label is supervised. */
  lossMask: tf.Tensor2D;
}

/**
 * Appends each row's gold answer (token ids of the decoder's tokenizer) after the decoder's
 * input and marks the positions that predict it. Call inside tf.tidy / the gradient scope.
 *
 * @example const t = appendAnswers(decoder.model, inputsEmbeds, attentionMask, [[17], [23, 5]]);
 */
export function appendAnswers(
  decoder: CausalLM,
  inputsEmbeds: tf.Tensor3D,
  attentionMask: tf.Tensor2D,
  answers: readonly number[][],
): AnswerTargets {
  const [b, T, d] = inputsEmbeds.shape;
  if (answers.length !== b) {
    throw new TrainError('INVALID_CONFIG', `${answers.length} answers for a batch of ${b}`);
  }
  const A = Math.max(...answers.map((a) => a.length));
  if (A === 0) throw new TrainError('INVALID_CONFIG', 'every answer is empty');
  const padded = answers.map((a) => [...a, ...new Array<number>(A - a.length).fill(0)]);
  const answerMask = answers.map((a) =>
    Array.from({ length: A }, (_, j) => (j < a.length ? 1 : 0)),
  );
  const labels = new Int32Array(b * (T + A));
  const lossMask = new Float32Array(b * (T + A));
  answers.forEach((a, r) => {
    a.forEach((token, j) => {
      labels[r * (T + A) + T - 1 + j] = token;
      lossMask[r * (T + A) + T - 1 + j] = 1;
    });
  });
  const answerEmbeds = tf.mul(
    decoder.embed(tf.tensor2d(padded, [b, A], 'int32')),
    tf.tensor3d(
      answerMask.map((row) => row.map((m) => [m])),
      [b, A, 1],
    ),
  ) as tf.Tensor3D; // [b, A, d], zero on padding
  if (answerEmbeds.shape[2] !== d) {
    throw new TrainError(
      'PLAN_MISMATCH',
      `decoder embeds ${answerEmbeds.shape[2]}-d, its input is ${d}-d`,
    );
  }
  return {
    inputsEmbeds: tf.concat([inputsEmbeds, answerEmbeds], 1) as tf.Tensor3D,
    attentionMask: tf.concat([attentionMask, tf.tensor2d(answerMask, [b, A])], 1) as tf.Tensor2D,
    labels: tf.tensor2d(labels, [b, T + A], 'int32'),
    lossMask: tf.tensor2d(lossMask, [b, T + A]),
  };
}

/** The decoder's agent in a plan. */
export function decoderAgent(plan: TopologyPlan): Agent {
  return plan.contexts.get(plan.decoder)!.agent;
}

/** The decoder's token ids of each gold answer (no special tokens). */
export function answerIds(plan: TopologyPlan, examples: readonly QAExample[]): number[][] {
  const tokenizer = decoderAgent(plan).tokenizer;
  return examples.map((e) => {
    const ids = tokenizer.encode(e.answer, { addSpecialTokens: false });
    if (ids.length === 0)
      throw new TrainError('INVALID_CONFIG', `empty answer for ${JSON.stringify(e.question)}`);
    return ids;
  });
}

/** The teacher-forced answer logits after unrolling `rounds` rounds. Call inside a tidy/scope. */
function answerLogits(
  plan: TopologyPlan,
  examples: readonly QAExample[],
  rounds: number,
  differentiable: boolean,
): { logits: tf.Tensor3D; targets: AnswerTargets } {
  const decoder = decoderAgent(plan).model;
  const { inputsEmbeds, attentionMask } = unrollRounds(
    plan,
    examples.map((e) => e.question),
    { rounds, differentiable },
  );
  const targets = appendAnswers(decoder, inputsEmbeds, attentionMask, answerIds(plan, examples));
  const { logits } = decoder.forward({
    inputsEmbeds: targets.inputsEmbeds,
    attentionMask: targets.attentionMask,
    returnLogits: true,
  });
  return { logits: logits!, targets };
}

export interface OuterLossOptions {
  /** Rounds n; default the topology's `rounds.max`. */
  rounds?: number;
  /** Only the final round's CE (the official default, 1); false adds 0.1 × mean of earlier rounds. */
  superviseFinalOnly?: boolean;
}

/**
 * The outer-loop loss of a batch (a scalar; caller owns): CE of the gold answers after n rounds,
 * plus 0.1 × the mean CE after rounds 1..n−1 when `superviseFinalOnly` is false (each earlier
 * round's CE is what the decoder would read at the end of that round).
 *
 * @example const { value, grads } = tf.variableGrads(() => outerLoss(plan, batch), outerVariables);
 */
export function outerLoss(
  plan: TopologyPlan,
  examples: readonly QAExample[],
  options: OuterLossOptions = {},
): tf.Scalar {
  const rounds = options.rounds ?? plan.rounds.max;
  return tf.tidy(() => {
    const ce = (r: number) => {
      const { logits, targets } = answerLogits(plan, examples, r, true);
      return maskedCrossEntropy(logits, targets.labels, targets.lossMask);
    };
    const final = ce(rounds);
    if (options.superviseFinalOnly ?? true) return final;
    if (rounds === 1) return final;
    // Each earlier round re-unrolls from round 1 (unrollRounds returns the final input only).
    const earlier = Array.from({ length: rounds - 1 }, (_, i) => ce(i + 1));
    return tf.add(final, tf.mul(tf.mean(tf.stack(earlier)), NON_LAST_LOSS_WEIGHT)) as tf.Scalar;
  });
}

export interface OuterEvaluation {
  /** Mean teacher-forced CE over the answers. */
  loss: number;
  /**
   * Fraction of examples whose every answer token is the decoder's argmax given the gold prefix
   * (exactly what greedy decoding produces for the answer span).
   */
  accuracy: number;
}

/**
 * Loss and exact-match accuracy of a plan on examples, with the KV-cached rollout (no gradients).
 *
 * @example evaluateOuter(plan, task.heldOut).accuracy // 0 before training, ≈ 1 after on the relay task
 */
export function evaluateOuter(
  plan: TopologyPlan,
  examples: readonly QAExample[],
  options: { rounds?: number; batchSize?: number } = {},
): OuterEvaluation {
  const rounds = options.rounds ?? plan.rounds.max;
  const size = options.batchSize ?? 16;
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < examples.length; i += size) {
    const batch = examples.slice(i, i + size);
    const [loss, accuracy] = tf.tidy(() => {
      const { logits, targets } = answerLogits(plan, batch, rounds, false);
      return [
        maskedCrossEntropy(logits, targets.labels, targets.lossMask).dataSync()[0]!,
        maskedExactMatch(logits, targets.labels, targets.lossMask),
      ];
    });
    lossSum += loss * batch.length;
    correct += accuracy * batch.length;
  }
  return { loss: lossSum / examples.length, accuracy: correct / examples.length };
}

/** The outer links of a link set (ids `outer:<from>-><to>`), by id. */
export function outerLinks(links: LinkSet): LinkSet {
  return new Map([...links].filter(([id]) => id.startsWith('outer:')));
}

/** Named variables of links, `<link id>/<parameter>`, e.g. `outer:reader->answerer/proj1.weight`. */
export function linkParameters(links: LinkSet): Map<string, tf.Variable> {
  const named = new Map<string, tf.Variable>();
  for (const [id, link] of links) {
    for (const [name, v] of link.namedParameters()) named.set(`${id}/${name}`, v);
  }
  return named;
}

/** Named variables of per-agent adaptations, `<agent>/<parameter>`. */
export function adaptationParameters(
  adaptations: ReadonlyMap<string, ModelAdaptation>,
): Map<string, tf.Variable> {
  const named = new Map<string, tf.Variable>();
  for (const [agent, a] of adaptations) {
    for (const [name, v] of a.namedParameters()) named.set(`${agent}/${name}`, v);
  }
  return named;
}

/**
 * A plan over the adapted models (LoRA or full fine-tuning) of the agents that have an adaptation.
 * Build it inside the gradient scope (or tf.tidy) and let the scope free it.
 *
 * @example const plan = adaptedPlan(ir, agents, links, adaptations);
 */
export function adaptedPlan(
  ir: TopologyIR,
  agents: ReadonlyMap<string, Agent>,
  links: LinkSet,
  adaptations: ReadonlyMap<string, ModelAdaptation>,
): TopologyPlan {
  const adapted = new Map<string, Agent>();
  for (const [name, agent] of agents) {
    const a = adaptations.get(name);
    adapted.set(name, a === undefined ? agent : { ...agent, model: a.model() });
  }
  return buildPlan(ir, { agents: adapted, links, mode: 'latent' });
}

/** What trains in the outer loop: the outer links (RecursiveMAS), or adapted agents (baselines). */
export type OuterMethod =
  | { kind: 'links' }
  | { kind: 'adapted'; adaptations: ReadonlyMap<string, ModelAdaptation> };

export interface OuterLoopOptions extends OuterLossOptions {
  ir: TopologyIR;
  /** The loaded agent of every IR agent, by IR name (frozen). */
  agents: ReadonlyMap<string, Agent>;
  /** Every link the IR declares (createLinks / loadLinks); only outer links train, and only for `links`. */
  links: LinkSet;
  examples: readonly QAExample[];
  /** Default `{ kind: 'links' }`. */
  method?: OuterMethod;
  config: Partial<TrainConfig> & Pick<TrainConfig, 'steps' | 'batchSize' | 'seed'>;
  progress?: TrainerOptions<QAExample>['progress'];
}

/**
 * A Trainer for the outer loop. With `links` the trainable variables are the outer links' (inner
 * links and agents stay frozen); with `adapted` they are the adaptations' (links frozen).
 *
 * @example
 * const links = createLinks(task.topology, { seed: 1 });
 * const trainer = outerLoopTrainer({ ir: task.topology, agents, links, examples: task.train,
 *   config: { steps: 60, batchSize: 6, seed: 1, lr: 3e-2 } });
 * trainer.run();
 */
export function outerLoopTrainer(options: OuterLoopOptions): Trainer<QAExample> {
  const method = options.method ?? { kind: 'links' };
  const lossOptions: OuterLossOptions = {
    ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
    ...(options.superviseFinalOnly !== undefined
      ? { superviseFinalOnly: options.superviseFinalOnly }
      : {}),
  };
  if (method.kind === 'links') {
    const plan = buildPlan(options.ir, {
      agents: options.agents,
      links: options.links,
      mode: 'latent',
    });
    const params = linkParameters(outerLinks(options.links));
    if (params.size === 0)
      throw new TrainError('INVALID_CONFIG', 'the topology has no outer links to train');
    return new Trainer<QAExample>({
      params,
      data: options.examples,
      config: options.config,
      ...(options.progress !== undefined ? { progress: options.progress } : {}),
      loss: (batch) => outerLoss(plan, batch, lossOptions),
    });
  }
  const { adaptations } = method;
  return new Trainer<QAExample>({
    params: adaptationParameters(adaptations),
    data: options.examples,
    config: options.config,
    ...(options.progress !== undefined ? { progress: options.progress } : {}),
    loss: (batch) =>
      tf.tidy(() =>
        outerLoss(
          adaptedPlan(options.ir, options.agents, options.links, adaptations),
          batch,
          lossOptions,
        ),
      ),
  });
}
