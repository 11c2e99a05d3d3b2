/**
 * The topology IR: the plain, serialisable definition of a recursive multi-agent system. It is
 * what the builder produces, what the CLI loads from JSON, what distributed workers share and what
 * `inspect` draws. Every field is explicit (no defaults left to the reader), so a runtime compiles
 * it without guessing and `JSON.parse(JSON.stringify(ir))` deep-equals `ir`.
 *
 * Execution semantics the runtime implements (RecursiveMAS §1.4–1.7):
 * - Rounds r = 1..rounds.max. In each round the agents run in the topological order of the
 *   forward edges (`executionOrder`).
 * - An agent's input is its prompt with every slot filled: `{{question}}` by the request text,
 *   `{{latent:S}}` by R_out(R_in(H_S)) of agent S in the same round (forward edge S -> agent), and
 *   `{{feedback}}` by R_out(R_in(H_F)) of agent F in the previous round (feedback edge F -> agent),
 *   empty in round 1.
 * - Every agent rolls out its own `latentSteps` latent thoughts H, except the decoder in the final
 *   round, which decodes the answer text instead (with its tools, if it has any).
 * - A request ends after `rounds.max` rounds, or earlier once the latents carried by the feedback
 *   edges change by less than `rounds.epsilon` (relative L2) between consecutive rounds; 0 disables.
 */

/** The IR version this package writes and reads. Bumped on any incompatible change. */
export const IR_VERSION = 1 as const;

/**
 * RecursiveLink variants (recursivemas.md §1.3 and Table 4).
 * - `official`: the release code, LayerNorm + residual 2-layer MLP (inner `ln_res_adapter`,
 *   outer `outer_ln_res_adapter`).
 * - `paper`: the paper's plain form, R_in(h) = h + W2·σ(W1·h), R_out(h) = W3·h + W2·σ(W1·h).
 * - `residual-one-layer`: ablation "Res+1-Layer".
 * - `one-layer`: ablation "1-Layer", a single linear map, no residual.
 * - `no-residual`: ablation "2-Layer", the 2-layer MLP without its residual.
 */
export const LINK_VARIANTS = [
  'official',
  'paper',
  'residual-one-layer',
  'one-layer',
  'no-residual',
] as const;
export type LinkVariant = (typeof LINK_VARIANTS)[number];

/** How a link's weights start: Kaiming, or the closed-form ridge fits of issue 4. */
export const LINK_INITS = ['kaiming', 'ridge'] as const;
export type LinkInit = (typeof LINK_INITS)[number];

export interface LinkIR {
  variant: LinkVariant;
  init: LinkInit;
}

/** The structure a link variant stands for, for whoever builds its layers. */
export interface LinkShape {
  /** LayerNorm before the MLP and after the sum (the release code's placement). */
  layerNorm: boolean;
  /** Identity (inner) or learned linear W3 (outer) residual branch. */
  residual: boolean;
  /** Linear layers on the MLP branch (1: W1 only, 2: W2·σ(W1·h)). */
  layers: 1 | 2;
}

const LINK_SHAPES: Record<LinkVariant, LinkShape> = {
  official: { layerNorm: true, residual: true, layers: 2 },
  paper: { layerNorm: false, residual: true, layers: 2 },
  'residual-one-layer': { layerNorm: false, residual: true, layers: 1 },
  'one-layer': { layerNorm: false, residual: false, layers: 1 },
  'no-residual': { layerNorm: false, residual: false, layers: 2 },
};

/**
 * The layer structure of a link variant.
 * @example linkShape('paper') // { layerNorm: false, residual: true, layers: 2 }
 */
export function linkShape(variant: LinkVariant): LinkShape {
  return { ...LINK_SHAPES[variant] };
}

/** A built-in model preset (models/ presets) or a local Hugging Face folder. */
export type ModelRef = { preset: string } | { path: string };

/**
 * What an agent hands on each round: latent thoughts (the method), or decoded text (a discrete
 * step: argmax or sampling; the receiver must re-tokenise it). Text output breaks differentiability.
 */
export type AgentOutput = 'latent' | 'text';

export interface LatentStopIR {
  /** In (0, 1]; 0.9 is a good start for trained inner links. */
  minCosine: number;
}

export interface AgentIR {
  /** Unique; letters, digits, `_` and `-`, starting with a letter or `_`. */
  name: string;
  model: ModelRef;
  /** d_h of the agent's model; checked against the loaded model by the runtime. */
  hiddenSize: number;
  /** Role prompt with slots: `{{question}}`, `{{feedback}}`, `{{latent:<agent>}}`. */
  prompt: string;
  /** Latent steps m of this agent's rollout each round. */
  latentSteps: number;
  /**
   * End a request's thoughts early where the agent would have stopped writing: at the first
   * thought within `minCosine` of its end-of-sequence embedding (an rmas extension; absent, the
   * paper's fixed m). See operators/latentStop.ts.
   */
  latentStop?: LatentStopIR;
  innerLink: LinkIR;
  output: AgentOutput;
  /** Names of the tools the agent may call when it decodes (runtime supplies implementations). */
  tools: string[];
}

/**
 * A hand-off between agents. `forward` edges run inside a round (they must form a DAG);
 * `feedback` edges carry a round's latents into the next round and close the recursion loop.
 */
export type EdgeKind = 'forward' | 'feedback';

/** `latent`: vectors through the outer link. `text`: decode then re-tokenise (discrete). */
export type Transport = 'latent' | 'text';

export interface EdgeIR {
  from: string;
  to: string;
  kind: EdgeKind;
  transport: Transport;
  /** null: the latents pass unchanged (identity), allowed only between equal hidden sizes. */
  outerLink: LinkIR | null;
}

export interface RoundsIR {
  /** Maximum recursion rounds n (>= 1). The paper's main results use 3. */
  max: number;
  /** Early stop when the feedback latents' relative change falls below this; 0 disables. */
  epsilon: number;
}

export interface DecodeIR {
  /** The agent that decodes the answer in the final round. */
  agent: string;
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** Tool calls allowed while decoding (the release uses 5). */
  maxToolRounds: number;
}

export interface TopologyIR {
  version: typeof IR_VERSION;
  name: string;
  agents: AgentIR[];
  edges: EdgeIR[];
  rounds: RoundsIR;
  decode: DecodeIR;
}

/** Grammar of agent names, shared by the schema and the slot parser. */
export const AGENT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * A stable, readable identifier of an edge, used in issues, link names and drawings.
 * @example edgeId({ from: 'solver', to: 'planner', kind: 'feedback' }) // 'solver->planner (feedback)'
 */
export function edgeId(edge: Pick<EdgeIR, 'from' | 'to' | 'kind'>): string {
  return edge.kind === 'feedback'
    ? `${edge.from}->${edge.to} (feedback)`
    : `${edge.from}->${edge.to}`;
}

/**
 * The prompt slot of the receiving agent that an edge fills.
 * @example slotOf({ from: 'planner', kind: 'forward' }) // 'latent:planner'
 */
export function slotOf(edge: Pick<EdgeIR, 'from' | 'kind'>): string {
  return edge.kind === 'feedback' ? 'feedback' : `latent:${edge.from}`;
}

/** Identifier of an agent's inner link (`inner:planner`). */
export function innerLinkId(agent: string): string {
  return `inner:${agent}`;
}

/** Identifier of an edge's outer link (`outer:planner->critic`, `outer:solver->planner`). */
export function outerLinkId(edge: Pick<EdgeIR, 'from' | 'to'>): string {
  return `outer:${edge.from}->${edge.to}`;
}
