/**
 * The outer loop in the official code's teacher-forced form (train/outer/sequential.py), over any
 * topology: every agent of every round reads its prompt with the transferred latents of its
 * sources spliced in, followed by its own gold role text; the states it hands on are its
 * last-layer states at the positions a latent rollout would produce them (the last prompt
 * position, then the gold tokens: state s predicts token s + 1), the first m of them.
 *
 * What differs from the official loss, and why: with teacher forcing, an agent's states already
 * hold its gold text, so the final agent's cross-entropy alone gives the earlier outer links
 * almost no signal (the critic's gold text carries what the planner's latents should have). Every
 * agent that reads latents therefore adds the cross-entropy of its own gold text given them
 * (deep supervision, weight `agentWeight`); the decoder's final-round cross-entropy is the
 * official term. Only outer links train; agents and inner links are frozen.
 *
 * Cheap on a CPU: one forward pass per agent and round, no rollout on the gradient tape, so
 * batches of 16 fit where train/outer.ts's differentiable rollouts (the exact inference path)
 * run out of wasm memory above 2 or 4.
 */
import * as tf from '@tensorflow/tfjs';
import type { TopologyIR } from '../../dsl/ir.ts';
import { innerLinkId, outerLinkId, slotOf } from '../../dsl/ir.ts';
import { executionOrder } from '../../dsl/order.ts';
import type { Agent } from '../../models/types.ts';
import { applyLink } from '../../operators/links/recursiveLink.ts';
import { padLeftEmbeds, spliceLatents } from '../../operators/prompt/splice.ts';
import type { LinkSet } from '../../runtime/links.ts';
import { buildPlan } from '../../runtime/plan.ts';
import { slottedPrompt } from '../../runtime/prompt.ts';
import { unrollRounds } from '../../runtime/unroll.ts';
import { type StepReport, Trainer } from '../../train/trainer.ts';

/** A question with the gold text of every agent of the topology (by IR agent name). */
export interface ChainExample {
  question: string;
  texts: Readonly<Record<string, string>>;
}

export interface TeacherForcedOptions {
  rounds: number;
  /**
   * Where the states an agent hands on come from: its teacher-forced pass over its gold text
   * (the official code's form; default), or the latent rollouts of inference (KV-cached, computed
   * off the gradient tape by the runtime's `unrollRounds`), so each link learns from exactly the
   * latents it will see; then only the last hop into each agent is on the tape.
   */
  senders?: 'teacher-forced' | 'rollout';
  /** Weight of each latent-reading agent's own cross-entropy. Default 1. */
  agentWeight?: number;
}

function targetIds(agent: Agent, text: string): number[] {
  const ids = agent.tokenizer.encode(text, { addSpecialTokens: false });
  const eos = agent.tokenizer.eosTokenIds[0];
  return eos === undefined ? ids : [...ids, eos];
}

/**
 * The loss of a batch (a scalar; call inside tf.variableGrads / tf.tidy).
 *
 * @example const loss = teacherForcedOuterLoss(ir, agents, links, batch, { rounds: 2 });
 */
export function teacherForcedOuterLoss(
  ir: TopologyIR,
  agents: ReadonlyMap<string, Agent>,
  links: LinkSet,
  batch: readonly ChainExample[],
  options: TeacherForcedOptions,
  /** Per round, each agent's rollout thoughts per request [m, d] (the `rollout` senders). */
  rollouts?: ReadonlyArray<Readonly<Record<string, readonly tf.Tensor2D[]>>>,
): tf.Scalar {
  return tf.tidy(() => {
    const rolled = (round: number, name: string, row: number): tf.Tensor2D | undefined =>
      rollouts?.[round - 1]?.[name]?.[row];
    const order = executionOrder(ir);
    const decoder = ir.decode.agent;
    const weight = options.agentWeight ?? 1;
    const terms: tf.Scalar[] = [];
    let previous = new Map<string, tf.Tensor2D[]>();
    for (let round = 1; round <= options.rounds; round++) {
      const current = new Map<string, tf.Tensor2D[]>();
      for (const name of order) {
        const def = ir.agents.find((a) => a.name === name)!;
        const agent = agents.get(name)!;
        const d = def.hiddenSize;
        const incoming = ir.edges.filter((e) => e.to === name);
        const embeds: tf.Tensor2D[] = [];
        const starts: number[] = [];
        const targets: number[][] = [];
        const final = name === decoder && round === options.rounds;
        const readsAny = incoming.some((e) => e.kind === 'forward' || round > 1);
        // With rollout senders, an agent that reads no latents contributes nothing to train.
        if (rollouts !== undefined && !final && !readsAny) continue;
        let readsLatents = false;
        batch.forEach((example, i) => {
          const latents: Record<string, tf.Tensor2D> = {};
          for (const edge of incoming) {
            const source = edge.kind === 'feedback' ? previous : current;
            const sourceRound = edge.kind === 'feedback' ? round - 1 : round;
            const states =
              rollouts !== undefined
                ? sourceRound >= 1
                  ? rolled(sourceRound, edge.from, i)
                  : undefined
                : source.get(edge.from)?.[i];
            if (states === undefined) {
              latents[slotOf(edge)] = tf.zeros([0, d]);
              continue;
            }
            readsLatents = true;
            const inner = links.get(innerLinkId(edge.from))!;
            const outer = edge.outerLink === null ? undefined : links.get(outerLinkId(edge));
            const inEmbedding = applyLink(inner, states);
            latents[slotOf(edge)] = outer ? applyLink(outer, inEmbedding) : inEmbedding;
          }
          const prompt = spliceLatents(
            agent.model,
            slottedPrompt(agent.tokenizer, def.prompt, example.question),
            latents,
          );
          const ids = targetIds(agent, example.texts[name]!);
          const gold = agent.model
            .embed(tf.tensor2d([ids], [1, ids.length], 'int32'))
            .reshape([ids.length, d]) as tf.Tensor2D;
          embeds.push(tf.concat([prompt, gold], 0) as tf.Tensor2D);
          starts.push(prompt.shape[0]);
          targets.push(ids);
        });
        const { inputsEmbeds, attentionMask, lengths } = padLeftEmbeds(embeds);
        const { hidden } = agent.model.forward({ inputsEmbeds, attentionMask }); // [b, T, d]
        const T = inputsEmbeds.shape[1];
        const flat = hidden.reshape([batch.length * T, d]);
        // Position (start − 1 + s) holds the state that predicts gold token s.
        const at = (row: number, s: number) => row * T + (T - lengths[row]!) + starts[row]! - 1 + s;
        if (final || readsLatents) {
          const positions = targets.flatMap((ids, row) => ids.map((_, s) => at(row, s)));
          const labels = targets.flat();
          const logits = agent.model.lmHead(
            tf.gather(flat, tf.tensor1d(positions, 'int32')),
          ) as tf.Tensor2D;
          const ce = tf.neg(
            tf.mean(
              tf.sum(
                tf.mul(
                  tf.logSoftmax(logits),
                  tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1]),
                ),
                -1,
              ),
            ),
          ) as tf.Scalar;
          terms.push(final ? ce : (tf.mul(ce, weight) as tf.Scalar));
        }
        if (!final && rollouts === undefined) {
          current.set(
            name,
            targets.map((ids, row) => {
              const count = Math.min(def.latentSteps, ids.length);
              return tf.gather(
                flat,
                tf.tensor1d(
                  Array.from({ length: count }, (_, s) => at(row, s)),
                  'int32',
                ),
              ) as tf.Tensor2D;
            }),
          );
        }
      }
      previous = current;
    }
    return tf.addN(terms).div(terms.length) as tf.Scalar;
  });
}

/**
 * A Trainer of the outer links on chain examples (the outer links' variables only).
 *
 * @example teacherForcedTrainer(ir, agents, links, examples, { rounds: 2 }, config).run();
 */
export function teacherForcedTrainer(
  ir: TopologyIR,
  agents: ReadonlyMap<string, Agent>,
  links: LinkSet,
  examples: readonly ChainExample[],
  options: TeacherForcedOptions,
  config: { steps: number; batchSize: number; lr: number; warmupSteps: number; seed: number },
): Trainer<ChainExample, Prepared> {
  const params = new Map<string, tf.Variable>();
  for (const [id, link] of links) {
    if (!id.startsWith('outer:')) continue;
    for (const [name, v] of link.namedParameters()) params.set(`${id}/${name}`, v);
  }
  const plan =
    options.senders === 'rollout' ? buildPlan(ir, { agents, links, mode: 'latent' }) : undefined;
  return new Trainer<ChainExample, Prepared>({
    params,
    data: examples,
    config,
    progress: false,
    // The rollouts run here, off the gradient tape (the trainer frees them after the step).
    prepare: (batch) => {
      if (plan === undefined) return { batch };
      const unrolled = unrollRounds(
        plan,
        batch.map((e) => e.question),
        { rounds: options.rounds, differentiable: false },
      );
      tf.dispose([unrolled.inputsEmbeds, unrolled.attentionMask]);
      return { batch, rollouts: unrolled.rounds };
    },
    loss: ({ batch, rollouts }) =>
      teacherForcedOuterLoss(ir, agents, links, batch, options, rollouts),
  });
}

/** A micro-batch, with its rollouts when the senders are rollouts. */
interface Prepared {
  batch: ChainExample[];
  rollouts?: Array<Record<string, tf.Tensor2D[]>>;
}

export type { StepReport };
