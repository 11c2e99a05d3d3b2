/**
 * Internals: the IR as a graph whose nodes declare what they are able to do. Compiler passes
 * (validation, differentiability, drawing, ordering) ask a node's `capabilities`; they never
 * branch on what kind of node it is. Each kind describes itself once, in `DESCRIBE` below, as zod
 * installs `_zod` internals per schema kind.
 */
import type { AgentIR, EdgeIR, TopologyIR } from './ir.ts';
import { edgeId, innerLinkId, outerLinkId, slotOf } from './ir.ts';
import { isKnownSlot, promptSlots } from './slots.ts';

/** `latent`: the method. `text`: the Recursive-TextMAS baseline (every hand-off is text). */
export type Mode = 'latent' | 'text';

/** The discrete operations that stop gradients (issue 9). */
export type DiscreteStep = 'argmax' | 'sampling' | 'tokenisation';

/** What a graph node is able to do, in a given mode. */
export interface Capabilities {
  /** What it hands on is a differentiable function of what it receives. */
  readonly isDifferentiable: boolean;
  /** The discrete steps it performs on the way (empty when differentiable). */
  readonly discreteSteps: readonly DiscreteStep[];
  /** It reads latents through a `{{latent:…}}` or `{{feedback}}` slot. */
  readonly hasLatentSlot: boolean;
  /** It produces text: the decoder, or anything that hands on text. */
  readonly decodesText: boolean;
  /** Its output is consumed in the next round: it closes the recursion loop. */
  readonly closesLoop: boolean;
  /** Ids of the trainable links it applies (`inner:planner`, `outer:planner->critic`). */
  readonly links: readonly string[];
}

interface NodeBase {
  /** Agent name, or `edgeId` for a hand-off. */
  readonly id: string;
  /** Where its definition sits in the IR. */
  readonly path: readonly (string | number)[];
  readonly capabilities: Capabilities;
}

export interface AgentNode extends NodeBase {
  readonly def: AgentIR;
  readonly slots: readonly string[];
}

export interface HandoffNode extends NodeBase {
  readonly def: EdgeIR;
  readonly source: string;
  readonly target: string;
  /** The slot of the target's prompt it fills. */
  readonly slot: string;
}

export interface Graph {
  readonly ir: TopologyIR;
  readonly mode: Mode;
  /** First declaration wins when names repeat (`validate` reports the duplicates). */
  readonly agents: ReadonlyMap<string, AgentNode>;
  /** Only hand-offs whose two ends exist (`validate` reports the others). */
  readonly handoffs: readonly HandoffNode[];
}

interface Context {
  readonly ir: TopologyIR;
  readonly mode: Mode;
}

/** The decoding step: greedy decoding is an argmax, anything else samples. */
function decodingStep(ir: TopologyIR): DiscreteStep {
  return ir.decode.temperature === 0 ? 'argmax' : 'sampling';
}

/** How each kind of node describes itself. */
const DESCRIBE = {
  agent(def: AgentIR, ctx: Context): Capabilities {
    const handsOnText = ctx.mode === 'text' || def.output === 'text';
    const slots = promptSlots(def.prompt);
    return {
      isDifferentiable: !handsOnText,
      discreteSteps: handsOnText ? [decodingStep(ctx.ir)] : [],
      hasLatentSlot: slots.some((slot) => isKnownSlot(slot) && slot !== 'question'),
      decodesText: handsOnText || def.name === ctx.ir.decode.agent,
      closesLoop: false,
      links: ctx.mode === 'latent' ? [innerLinkId(def.name)] : [],
    };
  },
  handoff(def: EdgeIR, ctx: Context): Capabilities {
    // Text arrives as tokens: the receiver re-tokenises it.
    const textual = ctx.mode === 'text' || def.transport === 'text';
    const steps: DiscreteStep[] = [];
    if (def.transport === 'text' && ctx.mode === 'latent') steps.push(decodingStep(ctx.ir));
    if (textual) steps.push('tokenisation');
    return {
      isDifferentiable: steps.length === 0,
      discreteSteps: steps,
      hasLatentSlot: false,
      decodesText: textual,
      closesLoop: def.kind === 'feedback',
      links: !textual && def.outerLink !== null ? [outerLinkId(def)] : [],
    };
  },
};

/**
 * Builds the capability graph of an IR in a mode. Tolerates invalid IR (unknown ends are left
 * out), so that every pass can run on whatever `validate` is looking at.
 * @example graphOf(ir, 'latent').handoffs.filter((h) => h.capabilities.closesLoop)
 */
export function graphOf(ir: TopologyIR, mode: Mode): Graph {
  const ctx: Context = { ir, mode };
  const agents = new Map<string, AgentNode>();
  ir.agents.forEach((def, i) => {
    if (agents.has(def.name)) return;
    agents.set(def.name, {
      id: def.name,
      path: ['agents', i],
      def,
      slots: promptSlots(def.prompt),
      capabilities: DESCRIBE.agent(def, ctx),
    });
  });
  const handoffs: HandoffNode[] = [];
  ir.edges.forEach((def, i) => {
    if (!agents.has(def.from) || !agents.has(def.to)) return;
    handoffs.push({
      id: edgeId(def),
      path: ['edges', i],
      def,
      source: def.from,
      target: def.to,
      slot: slotOf(def),
      capabilities: DESCRIBE.handoff(def, ctx),
    });
  });
  return { ir, mode, agents, handoffs };
}

/** The discrete steps on a hand-off, its source's included (what the gradient must cross). */
export function stepsAcross(graph: Graph, handoff: HandoffNode): DiscreteStep[] {
  const source = graph.agents.get(handoff.source);
  const steps = [
    ...(source?.capabilities.discreteSteps ?? []),
    ...handoff.capabilities.discreteSteps,
  ];
  return [...new Set(steps)];
}

/** Agents reachable from `start` along hand-offs that `follow` accepts (`start` included). */
export function reachable(
  graph: Graph,
  start: string,
  follow: (handoff: HandoffNode) => boolean = () => true,
): Set<string> {
  const seen = new Set([start]);
  const stack = [start];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const handoff of graph.handoffs) {
      if (handoff.source !== name || !follow(handoff) || seen.has(handoff.target)) continue;
      seen.add(handoff.target);
      stack.push(handoff.target);
    }
  }
  return seen;
}

/** Hand-offs that run inside a round (the ones that do not close the loop). */
export const withinRound = (handoff: HandoffNode): boolean => !handoff.capabilities.closesLoop;
