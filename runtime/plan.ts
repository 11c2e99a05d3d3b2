/**
 * `buildPlan`: a topology resolved against loaded agents and links into an execution plan — the
 * stages of a round (every agent in execution order), the stages of the final round (the agents the
 * decoder depends on within the round, then the decoder decoding), and the state transitions
 * between rounds. The stream engine (`compile`), the reference interpreter's checks and the
 * training unroll (`unrollRounds`) all run these same stage functions.
 *
 * Semantics (dsl/ir.ts): in round r an agent reads `{{question}}`, `{{latent:S}}` = R_out(R_in(H_S))
 * of round r and `{{feedback}}` = R_out(R_in(H_F)) of round r − 1 (empty in round 1). An edge
 * without an outer link carries R_in(H). In text mode (Recursive-TextMAS) the slots read the
 * sources' decoded texts instead. Agents whose output cannot reach the decoder's final-round input
 * are skipped in the final round (their latents would be discarded).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Mode } from '../dsl/graph.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import { innerLinkId, outerLinkId, slotOf } from '../dsl/ir.ts';
import { TopologyError } from '../dsl/issues.ts';
import { executionOrder } from '../dsl/order.ts';
import { isTopology, type Topology } from '../dsl/topology.ts';
import { assertValid } from '../dsl/validate.ts';
import type { Agent } from '../models/types.ts';
import { javascriptTool } from '../operators/tools/javascript.ts';
import { type SearchDocument, searchTool } from '../operators/tools/search.ts';
import type { Tool } from '../operators/tools/tool.ts';
import { checkAgents } from './agents.ts';
import { changeOfFeedback } from './convergence.ts';
import { RuntimeError } from './errors.ts';
import { checkLinks, type LinkSet, linkVariables } from './links.ts';
import type { Plan } from './stage.ts';
import {
  type AgentContext,
  type DecodeSettings,
  decoderInputs,
  decodeStage,
  latentStage,
  textStage,
} from './stages.ts';
import { initialState, type RequestState, stateTensors } from './state.ts';

export interface BuildPlanOptions {
  /** The loaded agent of every IR agent, by IR name (see `resolveAgents`). */
  agents: ReadonlyMap<string, Agent> | Readonly<Record<string, Agent>>;
  /** Latent mode: every link the IR declares, by link id (see `createLinks`, `loadLinks`). */
  links?: LinkSet;
  mode: Mode;
  /** Tool implementations by name; default `javascript` (sandboxed) and `search` (over `documents`). */
  tools?: Readonly<Record<string, Tool>>;
  /** The local documents of the default `search` tool. Default none. */
  documents?: readonly SearchDocument[];
  /** Text mode: tokens per hand-off text. Default the IR's `decode.maxNewTokens`. */
  handoffTokens?: number;
  /** Seed of sampling when `decode.temperature` > 0. Default 0. */
  seed?: number;
}

/** The plan of a topology: the engine's `Plan`, plus what training and inspection need. */
export interface TopologyPlan extends Plan<RequestState> {
  readonly ir: TopologyIR;
  /** Agents in execution order. */
  readonly order: readonly string[];
  readonly decoder: string;
  /** Agents the final round runs before the decoder decodes. */
  readonly finalAgents: readonly string[];
  readonly contexts: ReadonlyMap<string, AgentContext>;
  readonly links: LinkSet;
  /** Every trainable link variable (latent mode). */
  readonly variables: tf.Variable[];
  /**
   * The decoder's input for a batch whose current round has run up to the decoder: left-padded
   * spliced embeddings [b, T, d] and mask [b, T]. The caller owns them.
   */
  decoderInput(states: readonly RequestState[]): {
    inputsEmbeds: tf.Tensor3D;
    attentionMask: tf.Tensor2D;
  };
}

/** The IR of a topology or IR, checked by `validate`. */
export function checkedIR(topology: Topology | TopologyIR): TopologyIR {
  try {
    return assertValid(isTopology(topology) ? topology.ir : topology);
  } catch (error) {
    if (error instanceof TopologyError) {
      throw new RuntimeError('INVALID_TOPOLOGY', error.message, { cause: error });
    }
    throw error;
  }
}

/** Agents whose output reaches `target` within a round (forward edges), `target` excluded. */
function forwardAncestors(ir: TopologyIR, target: string): Set<string> {
  const found = new Set<string>();
  const stack = [target];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const edge of ir.edges) {
      if (edge.kind === 'forward' && edge.to === name && !found.has(edge.from)) {
        found.add(edge.from);
        stack.push(edge.from);
      }
    }
  }
  return found;
}

function defaultTools(documents: readonly SearchDocument[]): Record<string, Tool> {
  return { javascript: javascriptTool(), search: searchTool(documents) };
}

/**
 * Resolves a topology into a plan over loaded agents (and links, in latent mode).
 * @example
 * const agents = await resolveAgents(ir, registry);
 * const links = createLinks(ir, { seed: 1 });
 * const plan = buildPlan(ir, { agents, links, mode: 'latent' });
 * plan.roundStages.map((s) => s.id) // ['planner/latent', 'critic/latent', 'solver/latent']
 */
export function buildPlan(
  topology: Topology | TopologyIR,
  options: BuildPlanOptions,
): TopologyPlan {
  const ir = checkedIR(topology);
  const mode = options.mode;
  if (mode !== 'latent' && mode !== 'text') {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `mode must be 'latent' or 'text', got ${String(mode)}`,
    );
  }
  const agents =
    options.agents instanceof Map
      ? (options.agents as ReadonlyMap<string, Agent>)
      : new Map(Object.entries(options.agents as Record<string, Agent>));
  checkAgents(ir, agents);
  const links: LinkSet = options.links ?? new Map();
  if (mode === 'latent') {
    if (options.links === undefined) {
      throw new RuntimeError('LINK_MISMATCH', 'latent mode needs links (createLinks or loadLinks)');
    }
    checkLinks(ir, links);
  }
  const needsDefaults = options.tools === undefined;
  const tools = options.tools ?? {};
  let defaults: Record<string, Tool> | undefined;
  const toolOf = (agent: string, name: string): Tool => {
    const given = tools[name];
    if (given !== undefined) return given;
    if (needsDefaults) {
      defaults ??= defaultTools(options.documents ?? []);
      const tool = defaults[name];
      if (tool !== undefined) return tool;
    }
    throw new RuntimeError(
      'UNKNOWN_TOOL',
      `agent "${agent}" declares tool "${name}", which has no implementation`,
    );
  };

  const link = (id: string) => (mode === 'latent' ? links.get(id) : undefined);
  const contexts = new Map<string, AgentContext>();
  for (const def of ir.agents) {
    const inputs = ir.edges
      .filter((e) => e.to === def.name)
      .map((e) => ({
        slot: slotOf(e),
        source: e.from,
        feedback: e.kind === 'feedback',
        sourceInner: link(innerLinkId(e.from)),
        outer: e.outerLink === null ? null : (link(outerLinkId(e)) ?? null),
      }));
    contexts.set(def.name, {
      name: def.name,
      def,
      agent: agents.get(def.name)!,
      inner: link(innerLinkId(def.name)),
      inputs,
      tools: def.tools.map((name) => toolOf(def.name, name)),
    });
  }

  const answer = {
    maxNewTokens: ir.decode.maxNewTokens,
    temperature: ir.decode.temperature,
    topP: ir.decode.topP,
    seed: options.seed ?? 0,
  };
  const settings: DecodeSettings = {
    answer,
    handoff: { ...answer, maxNewTokens: options.handoffTokens ?? ir.decode.maxNewTokens },
    maxToolRounds: ir.decode.maxToolRounds,
  };
  const order = executionOrder(ir);
  const decoder = ir.decode.agent;
  const ancestors = forwardAncestors(ir, decoder);
  const finalAgents = order.filter((name) => ancestors.has(name));
  const ctx = (name: string) => contexts.get(name)!;
  const roundStage = (name: string) =>
    mode === 'latent' ? latentStage(ctx(name)) : textStage(ctx(name), settings);
  const roundStages = order.map(roundStage);
  const byId = new Map(roundStages.map((s) => [s.agent, s]));
  const decode = decodeStage(ctx(decoder), mode, settings);
  const feedbackSources = [
    ...new Set(ir.edges.filter((e) => e.kind === 'feedback').map((e) => e.from)),
  ];

  return {
    name: ir.name,
    mode,
    rounds: { ...ir.rounds },
    ir,
    order,
    decoder,
    finalAgents,
    contexts,
    links,
    variables: mode === 'latent' ? linkVariables(links) : [],
    roundStages,
    finalStages: [...finalAgents.map((name) => byId.get(name)!), decode],
    earlyStopStage: decode,
    start: initialState,
    change: (state) => changeOfFeedback(state, feedbackSources, mode),
    advance(state) {
      const pick = <T>(all: Readonly<Record<string, T>>) =>
        Object.fromEntries(
          feedbackSources.flatMap((f) => (all[f] === undefined ? [] : [[f, all[f]]])),
        );
      return {
        ...state,
        round: state.round + 1,
        thoughts: {},
        fedBack: pick(state.thoughts),
        texts: {},
        fedBackTexts: pick(state.texts),
      };
    },
    text: (state) => state.answer,
    usage: (state) => state.usage,
    tensors: stateTensors,
    decoderInput: (states) => decoderInputs(ctx(decoder), states, mode),
  };
}
