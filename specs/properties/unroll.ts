/**
 * Test-side machinery for the gradient properties:
 * - `answerCrossEntropy`: teacher-forced cross-entropy of a short target after a decoder input;
 * - `referenceDecoderInput`: an independent unroll of the rounds for one question, written from
 *   the IR semantics in dsl/ir.ts (not from runtime/plan.ts), in which every link is replaced, in
 *   each round, by its own copy: the gradient with respect to round r's copy is what reaches the
 *   link through round r (the round whose latents it transforms, as `differentiability` counts);
 * - `linkGradientNorms`: gradients grouped per link.
 */
import * as tf from '@tensorflow/tfjs';
import type { TopologyIR } from '../../dsl/ir.ts';
import { innerLinkId, outerLinkId, slotOf } from '../../dsl/ir.ts';
import { executionOrder } from '../../dsl/order.ts';
import type { Agent, CausalLM } from '../../models/types.ts';
import { latentRolloutUncached } from '../../operators/latentThoughts.ts';
import type { LayerNormParams } from '../../operators/links/layerNorm.ts';
import {
  applyLink,
  type LinearParams,
  RecursiveLink,
} from '../../operators/links/recursiveLink.ts';
import { spliceLatents } from '../../operators/prompt/splice.ts';
import type { LinkSet } from '../../runtime/links.ts';
import { slottedPrompt } from '../../runtime/prompt.ts';

/**
 * Mean over the target's tokens of −log p(target_j | input ⊕ target_<j): the decoder reads its
 * input [T, d] (one request, no padding), then the target's own embeddings.
 * @example const ce = answerCrossEntropy(solver.model, input, [7, 12]); // scalar, caller owns
 */
export function answerCrossEntropy(
  model: CausalLM,
  input: tf.Tensor2D,
  target: readonly number[],
): tf.Scalar {
  return tf.tidy(() => {
    const [T, d] = input.shape;
    const k = target.length;
    const teacher = target.slice(0, -1);
    const parts = [input];
    if (teacher.length > 0) {
      parts.push(
        model
          .embed(tf.tensor2d([teacher], [1, teacher.length], 'int32'))
          .reshape([teacher.length, d]),
      );
    }
    const full = tf.concat(parts, 0).expandDims(0) as tf.Tensor3D; // [1, T + k − 1, d]
    const { logits } = model.forward({ inputsEmbeds: full, returnLogits: true });
    const vocab = logits!.shape[2];
    const predicting = logits!.slice([0, T - 1, 0], [1, k, vocab]).reshape([k, vocab]); // [k, V]
    const picked = tf.sum(
      tf.mul(tf.logSoftmax(predicting), tf.oneHot(tf.tensor1d([...target], 'int32'), vocab)),
      1,
    ); // [k]
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

function copyVariable(v: tf.Variable, name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.clone(v), true, name));
}

let copies = 0;

/** A link with the same weights in fresh variables (the caller disposes it). */
export function copyLink(link: RecursiveLink): RecursiveLink {
  const tag = `copy${copies++}`;
  const linear = (p: LinearParams | undefined, key: string): LinearParams | undefined =>
    p && {
      weight: copyVariable(p.weight, `${tag}/${key}.weight`),
      bias: copyVariable(p.bias, `${tag}/${key}.bias`),
    };
  const norm = (p: LayerNormParams | undefined, key: string): LayerNormParams | undefined =>
    p && {
      weight: copyVariable(p.weight, `${tag}/${key}.weight`),
      bias: copyVariable(p.bias, `${tag}/${key}.bias`),
      eps: p.eps,
    };
  return new RecursiveLink(
    link.kind,
    link.variant,
    link.inDim,
    link.outDim,
    link.hiddenDim,
    link.layerNormEps,
    linear(link.proj1, 'proj1')!,
    linear(link.proj2, 'proj2'),
    linear(link.residualProj, 'residual_proj'),
    norm(link.preNorm, 'pre'),
    norm(link.postNorm, 'post'),
  );
}

/** Per round r (1-based), a copy of every link. */
export type RoundLinks = Map<number, Map<string, RecursiveLink>>;

export function perRoundLinks(links: LinkSet, rounds: number): RoundLinks {
  const byRound: RoundLinks = new Map();
  for (let r = 1; r <= rounds; r++) {
    byRound.set(r, new Map([...links].map(([id, link]) => [id, copyLink(link)])));
  }
  return byRound;
}

export function disposeRoundLinks(byRound: RoundLinks): void {
  for (const links of byRound.values()) for (const link of links.values()) link.dispose();
}

/** Agents whose output reaches `target` within a round (forward edges only). */
function forwardAncestors(ir: TopologyIR, target: string): Set<string> {
  const found = new Set<string>();
  const stack = [target];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const e of ir.edges) {
      if (e.kind === 'forward' && e.to === name && !found.has(e.from)) {
        found.add(e.from);
        stack.push(e.from);
      }
    }
  }
  return found;
}

/**
 * The decoder's final-round input [T, d] for one question, unrolled from the IR (dsl/ir.ts):
 * in round r every agent, in execution order, reads `{{latent:S}}` = R_out(R_in(H_S,r)),
 * `{{feedback}}` = R_out(R_in(H_F,r−1)) (empty in round 1), rolls out its m latent thoughts with
 * R_in; in the last round the decoder's input is the result. The links applied to round r's
 * latents are round r's copies. Call inside a tidy / gradient scope.
 */
export function referenceDecoderInput(
  ir: TopologyIR,
  agents: Readonly<Record<string, Agent>>,
  byRound: RoundLinks,
  question: string,
): tf.Tensor2D {
  const n = ir.rounds.max;
  const decoder = ir.decode.agent;
  const needed = forwardAncestors(ir, decoder);
  const order = executionOrder(ir);
  let previous: Record<string, tf.Tensor2D> = {};
  for (let round = 1; round <= n; round++) {
    const current: Record<string, tf.Tensor2D> = {};
    for (const name of order) {
      const final = round === n;
      if (final && name !== decoder && !needed.has(name)) continue;
      const def = ir.agents.find((a) => a.name === name)!;
      const agent = agents[name]!;
      const latents: Record<string, tf.Tensor2D> = {};
      for (const edge of ir.edges.filter((e) => e.to === name)) {
        const latentRound = edge.kind === 'feedback' ? round - 1 : round;
        const h = edge.kind === 'feedback' ? previous[edge.from] : current[edge.from];
        if (h === undefined) {
          if (edge.kind === 'forward') throw new Error(`${edge.from} has not run before ${name}`);
          latents[slotOf(edge)] = tf.zeros([0, def.hiddenSize]);
          continue;
        }
        const links = byRound.get(latentRound)!;
        let x = applyLink(links.get(innerLinkId(edge.from))!, h);
        if (edge.outerLink !== null) x = applyLink(links.get(outerLinkId(edge))!, x);
        latents[slotOf(edge)] = x;
      }
      const prompt = slottedPrompt(agent.tokenizer, def.prompt, question);
      const embeds = spliceLatents(agent.model, prompt, latents); // [t, d]
      if (final && name === decoder) return embeds;
      const inner = byRound.get(round)!.get(innerLinkId(name))!;
      const h = latentRolloutUncached(
        agent.model,
        inner,
        { inputsEmbeds: embeds.expandDims(0) as tf.Tensor3D },
        def.latentSteps,
      ); // [1, m, d]
      current[name] = h.reshape([def.latentSteps, def.hiddenSize]);
    }
    previous = current;
  }
  throw new Error(`the decoder ${decoder} never ran`);
}

/**
 * ‖∂L/∂link‖₂ per link id (absent variables count as zero), from variableGrads' named gradients.
 * Finite or not, as computed.
 */
export function linkGradientNorms(
  links: ReadonlyMap<string, RecursiveLink>,
  grads: tf.NamedTensorMap,
): Map<string, number> {
  const norms = new Map<string, number>();
  for (const [id, link] of links) {
    let sum = 0;
    for (const v of link.variables) {
      const g = grads[v.name];
      if (g === undefined) continue;
      for (const x of g.dataSync()) sum += x * x;
    }
    norms.set(id, Math.sqrt(sum));
  }
  return norms;
}
