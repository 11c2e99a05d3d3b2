/**
 * Compile-time differentiability analysis (issue 9). Two questions:
 * 1. Does any hand-off pass through a discrete step (argmax, sampling, tokenisation)? Then no
 *    gradient crosses it, and the topology is not end-to-end differentiable.
 * 2. Which trainable links does the final cross-entropy reach, and through which rounds? It
 *    unrolls the rounds the way the runtime runs them (see `ir.ts`) and walks back from the
 *    decoder's final-round input along differentiable hand-offs only.
 */
import type { DiscreteStep, Graph, HandoffNode, Mode } from './graph.ts';
import { graphOf, stepsAcross } from './graph.ts';
import type { TopologyIR } from './ir.ts';
import { innerLinkId, outerLinkId } from './ir.ts';

export interface DiscreteReason {
  /** `edgeId` of the hand-off, e.g. `planner->critic`. */
  edge: string;
  path: (string | number)[];
  steps: DiscreteStep[];
  message: string;
}

export interface LinkGradient {
  /** `inner:<agent>` or `outer:<from>-><to>`. */
  link: string;
  receivesGradient: boolean;
  /**
   * Rounds through which the loss reaches it: the round whose latents the link transforms
   * (for a feedback link, the round it carries into the next one).
   */
  rounds: number[];
}

export interface DifferentiabilityReport {
  mode: Mode;
  /** True when no hand-off crosses a discrete step. */
  differentiable: boolean;
  reasons: DiscreteReason[];
  /** Every link the IR declares, in declaration order (inner links first). */
  links: LinkGradient[];
}

const STEP_WORDS: Record<DiscreteStep, string> = {
  argmax: 'argmax decoding',
  sampling: 'sampling',
  tokenisation: 'tokenisation',
};

/**
 * Reports whether gradients flow end to end in a mode, and which links they reach.
 * @example
 * differentiability(ir, 'latent').differentiable // true for the four patterns
 * differentiability(ir, 'text').reasons[0].message
 * // 'hand-off planner->critic passes through argmax decoding and tokenisation: no gradient crosses it'
 */
export function differentiability(ir: TopologyIR, mode: Mode): DifferentiabilityReport {
  const graph = graphOf(ir, mode);
  const reasons: DiscreteReason[] = [];
  for (const handoff of graph.handoffs) {
    const steps = stepsAcross(graph, handoff);
    if (steps.length === 0) continue;
    reasons.push({
      edge: handoff.id,
      path: [...handoff.path],
      steps,
      message: `hand-off ${handoff.id} passes through ${steps.map((s) => STEP_WORDS[s]).join(' and ')}: no gradient crosses it`,
    });
  }
  return { mode, differentiable: reasons.length === 0, reasons, links: linkGradients(graph) };
}

/** `${agent}@${round}`: a value of the unrolled computation. */
const at = (agent: string, round: number): string => `${agent}@${round}`;

function linkGradients(graph: Graph): LinkGradient[] {
  const rounds = graph.ir.rounds.max;
  const decoder = graph.ir.decode.agent;
  const passes = (h: HandoffNode): boolean => stepsAcross(graph, h).length === 0;
  // The round in which a hand-off's latents (produced in `round`) are read, if any.
  const readRound = (h: HandoffNode, round: number): number | undefined => {
    const target = h.capabilities.closesLoop ? round + 1 : round;
    return target <= rounds ? target : undefined;
  };
  // The decoder decodes in the final round: it produces no latents then.
  const produces = (agent: string, round: number): boolean =>
    round >= 1 && round <= rounds && !(agent === decoder && round === rounds);

  // inputMatters: the loss depends (differentiably) on this agent's input in this round.
  // latentsMatter: the loss depends on this agent's latent output in this round.
  const inputMatters = new Set<string>();
  const latentsMatter = new Set<string>();
  if (graph.agents.has(decoder) && rounds >= 1) inputMatters.add(at(decoder, rounds));
  // A fixpoint over (agent, round): monotone and finite, and indifferent to cycles in invalid IR.
  for (let changed = true; changed; ) {
    changed = false;
    for (const handoff of graph.handoffs) {
      if (!passes(handoff)) continue;
      for (let round = 1; round <= rounds; round++) {
        const read = readRound(handoff, round);
        if (read === undefined || !produces(handoff.source, round)) continue;
        if (!inputMatters.has(at(handoff.target, read))) continue;
        const key = at(handoff.source, round);
        if (latentsMatter.has(key)) continue;
        latentsMatter.add(key);
        changed = true;
        // An agent's latents depend differentiably on its input when it hands on latents.
        if (graph.agents.get(handoff.source)?.capabilities.isDifferentiable) inputMatters.add(key);
      }
    }
  }

  const links: LinkGradient[] = [];
  for (const agent of graph.agents.values()) {
    const link = innerLinkId(agent.id);
    const gradientRounds = range(rounds).filter((r) => latentsMatter.has(at(agent.id, r)));
    const receives = agent.capabilities.links.includes(link) && gradientRounds.length > 0;
    links.push({ link, receivesGradient: receives, rounds: receives ? gradientRounds : [] });
  }
  for (const handoff of graph.handoffs) {
    if (handoff.def.outerLink === null) continue;
    const link = outerLinkId(handoff.def);
    const used = handoff.capabilities.links.includes(link) && passes(handoff);
    const gradientRounds = range(rounds).filter((round) => {
      const read = readRound(handoff, round);
      return (
        read !== undefined &&
        produces(handoff.source, round) &&
        inputMatters.has(at(handoff.target, read))
      );
    });
    const receives = used && gradientRounds.length > 0;
    links.push({ link, receivesGradient: receives, rounds: receives ? gradientRounds : [] });
  }
  return links;
}

function range(n: number): number[] {
  return Array.from({ length: Math.max(0, n) }, (_, i) => i + 1);
}
