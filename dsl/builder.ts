/**
 * The builder surface: a chain of calls that records agents, edges, rounds and the decoder, and
 * carries in its type what the IR will contain, so that mistakes the types can see are compile
 * errors:
 * - an unknown agent name in an edge or as the decoder (the argument does not type-check);
 * - a `{{latent:x}}` or `{{feedback}}` slot that no edge fills, an edge whose target has no slot
 *   for it, an unknown slot name, a feedback edge that closes no loop, and a missing decoder
 *   (`.build()` does not type-check, and the error message names the problem).
 * Prompts typed as plain `string` (read from a file, say) skip the slot checks; `validate` makes
 * them at run time. Builders are immutable: every call returns a new one.
 */
import { DEFAULTS } from './defaults.ts';
import type {
  AgentIR,
  AgentOutput,
  DecodeIR,
  EdgeIR,
  EdgeKind,
  LatentStopIR,
  LinkInit,
  LinkIR,
  LinkVariant,
  ModelRef,
  RoundsIR,
  TopologyIR,
  Transport,
} from './ir.ts';
import { IR_VERSION } from './ir.ts';
import type { LatentSourcesOf, Slot, SlotsOf } from './slots.ts';
import type { Topology } from './topology.ts';
import { fromIR } from './topology.ts';

/** A link given by variant name, or in full. */
export type LinkOption = LinkVariant | { variant?: LinkVariant; init?: LinkInit };

export interface AgentConfig<Prompt extends string = string> {
  /** A preset name (`'tiny-96'`) or a local folder (anything with `/`, or starting with `.` or `~`). */
  model: string | ModelRef;
  hiddenSize: number;
  /** Role prompt with `{{question}}`, `{{feedback}}` and `{{latent:<agent>}}` slots. */
  prompt: Prompt;
  /** m for this agent; defaults to `rounds({ latentSteps })`, else 32. */
  latentSteps?: number;
  /** End its thoughts where it would have stopped writing (see `AgentIR.latentStop`). */
  latentStop?: LatentStopIR;
  /** Default `'official'`. */
  innerLink?: LinkOption;
  /** Default `'latent'`; `'text'` makes the agent decode mid-graph (non-differentiable). */
  output?: AgentOutput;
  /** Tools it may call when it decodes. */
  tools?: readonly string[];
}

export interface EdgeOptions {
  /** Default `'official'`; `null` passes latents unchanged (equal hidden sizes only). */
  outerLink?: LinkOption | null;
  /** Default `'latent'`; `'text'` decodes and re-tokenises (rejected by `validate`). */
  transport?: Transport;
}

export interface RoundsOptions {
  /** Maximum rounds n; default 3. */
  max?: number;
  /** Early stop on relative latent change below this; default 0 (off). */
  epsilon?: number;
  /** m for every agent that does not set its own; default 32. */
  latentSteps?: number;
}

export type DecodeOptions = Partial<Omit<DecodeIR, 'agent'>>;

/** What the type of a builder remembers about an agent. */
interface AgentType {
  slots: string;
  /** False when the prompt is a plain `string`: its slots are unknown to the type system. */
  checked: boolean;
}
interface EdgeType {
  from: string;
  to: string;
}
type AgentTypes = Record<string, AgentType>;
/** Template literal so that error messages show the names themselves, not this alias. */
type NamesOf<A extends AgentTypes> = `${keyof A & string}`;

/**
 * Resolves a model reference given as a string.
 * @example modelRef('tiny-96') // { preset: 'tiny-96' }; modelRef('./models/qwen') // { path: './models/qwen' }
 */
export function modelRef(model: string | ModelRef): ModelRef {
  if (typeof model !== 'string') return { ...model };
  const isPath = /[/\\]/.test(model) || model.startsWith('.') || model.startsWith('~');
  return isPath ? { path: model } : { preset: model };
}

/**
 * Resolves a link option to its IR.
 * @example linkIR('paper') // { variant: 'paper', init: 'kaiming' }
 */
export function linkIR(option: LinkOption | undefined): LinkIR {
  const base = DEFAULTS.link();
  if (option === undefined) return base;
  if (typeof option === 'string') return { ...base, variant: option };
  return { variant: option.variant ?? base.variant, init: option.init ?? base.init };
}

interface BuilderState {
  readonly name: string;
  readonly agents: readonly (Omit<AgentIR, 'latentSteps'> & { latentSteps: number | undefined })[];
  readonly edges: readonly EdgeIR[];
  readonly rounds: RoundsIR;
  readonly latentSteps: number;
  readonly decode: DecodeIR | undefined;
}

/**
 * Starts a topology.
 * @example
 * const t = topology('pair')
 *   .agent('thinker', { model: 'tiny-96', hiddenSize: 96, prompt: '{{question}} {{feedback}}' })
 *   .agent('answerer', { model: 'tiny-128', hiddenSize: 128, prompt: '{{question}} {{latent:thinker}}' })
 *   .edge('thinker', 'answerer')
 *   .feedback('answerer', 'thinker')
 *   .rounds({ max: 2, latentSteps: 8 })
 *   .decode('answerer')
 *   .build();
 */
export function topology(name: string = DEFAULTS.name): TopologyBuilder {
  return new TopologyBuilder({
    name,
    agents: [],
    edges: [],
    rounds: DEFAULTS.rounds(),
    latentSteps: DEFAULTS.latentSteps,
    decode: undefined,
  });
}

/** The builder without type-level checks, for names only known at run time (config files). */
export interface LooseTopologyBuilder {
  agent(name: string, config: AgentConfig): LooseTopologyBuilder;
  edge(from: string, to: string, options?: EdgeOptions): LooseTopologyBuilder;
  feedback(from: string, to: string, options?: EdgeOptions): LooseTopologyBuilder;
  rounds(options: RoundsOptions): LooseTopologyBuilder;
  decode(agent: string, options?: DecodeOptions): LooseTopologyBuilder;
  toIR(): TopologyIR;
}

/**
 * Starts a topology whose names the types cannot know; `validate` its IR.
 * @example
 * let b = looseTopology('from-config');
 * for (const a of config.agents) b = b.agent(a.name, a);
 * const issues = validate(b.toIR());
 */
export function looseTopology(name: string = DEFAULTS.name): LooseTopologyBuilder {
  return topology(name) as unknown as LooseTopologyBuilder;
}

export class TopologyBuilder<
  A extends AgentTypes = Record<never, AgentType>,
  F extends EdgeType = never,
  B extends EdgeType = never,
  D extends string = never,
> {
  readonly #state: BuilderState;

  /** Use `topology()`. */
  constructor(state: BuilderState) {
    this.#state = state;
    this.build = (() => fromIR(this.toIR())) as never;
  }

  /** Adds an agent; its name must be new. */
  agent<const N extends string, const P extends string>(
    name: N & (N extends NamesOf<A> ? { error: `agent "${N}" is already declared` } : unknown),
    config: AgentConfig<P>,
  ): TopologyBuilder<
    A & { [K in N]: { slots: SlotsOf<P>; checked: string extends P ? false : true } },
    F,
    B,
    D
  > {
    const agent = {
      name,
      model: modelRef(config.model),
      hiddenSize: config.hiddenSize,
      prompt: config.prompt,
      latentSteps: config.latentSteps,
      ...(config.latentStop ? { latentStop: { ...config.latentStop } } : {}),
      innerLink: linkIR(config.innerLink),
      output: config.output ?? 'latent',
      tools: [...(config.tools ?? [])],
    };
    return new TopologyBuilder({ ...this.#state, agents: [...this.#state.agents, agent] });
  }

  /** A latent hand-off inside a round: fills `{{latent:<from>}}` in the prompt of `to`. */
  edge<S extends NamesOf<A>, T extends NamesOf<A>>(
    from: S,
    to: T,
    options: EdgeOptions = {},
  ): TopologyBuilder<A, F | { from: S; to: T }, B, D> {
    return this.#withEdge(from, to, 'forward', options);
  }

  /**
   * A hand-off into the next round: fills `{{feedback}}` in the prompt of `to`. It must close a
   * loop: `to` reaches `from` through forward edges (or `to` is `from`).
   */
  feedback<S extends NamesOf<A>, T extends NamesOf<A>>(
    from: S,
    to: T,
    options: EdgeOptions = {},
  ): TopologyBuilder<A, F, B | { from: S; to: T }, D> {
    return this.#withEdge(from, to, 'feedback', options);
  }

  /** Recursion rounds, convergence epsilon and the default latent steps m. */
  rounds(options: RoundsOptions): TopologyBuilder<A, F, B, D> {
    const rounds = {
      max: options.max ?? this.#state.rounds.max,
      epsilon: options.epsilon ?? this.#state.rounds.epsilon,
    };
    const latentSteps = options.latentSteps ?? this.#state.latentSteps;
    return new TopologyBuilder({ ...this.#state, rounds, latentSteps });
  }

  /** The agent that decodes the answer in the final round. */
  decode<N extends NamesOf<A>>(agent: N, options: DecodeOptions = {}): TopologyBuilder<A, F, B, N> {
    const given = Object.entries(options).filter(([, value]) => value !== undefined);
    const decode = { agent, ...DEFAULTS.decode(), ...Object.fromEntries(given) };
    return new TopologyBuilder({ ...this.#state, decode });
  }

  /**
   * The built topology. Not callable while the builder has a problem the types can see: the
   * error message quotes it (`Type '{ problem: "rmas: …" }' has no call signatures`). Other
   * problems are `validate`'s.
   */
  readonly build: [BuildProblems<A, F, B, D>] extends [never]
    ? () => Topology<NamesOf<A>, D>
    : { problem: Show<BuildProblems<A, F, B, D>> };

  /** The IR as built so far (not checked by the types; run `validate` on it). */
  toIR(): TopologyIR {
    const state = this.#state;
    return {
      version: IR_VERSION,
      name: state.name,
      agents: state.agents.map((agent) => ({
        ...agent,
        latentSteps: agent.latentSteps ?? state.latentSteps,
        innerLink: { ...agent.innerLink },
        tools: [...agent.tools],
      })),
      edges: state.edges.map((edge) => ({
        ...edge,
        outerLink: edge.outerLink === null ? null : { ...edge.outerLink },
      })),
      rounds: { ...state.rounds },
      decode:
        state.decode === undefined ? { agent: '', ...DEFAULTS.decode() } : { ...state.decode },
    };
  }

  #withEdge<X extends AgentTypes, Y extends EdgeType, Z extends EdgeType, W extends string>(
    from: string,
    to: string,
    kind: EdgeKind,
    options: EdgeOptions,
  ): TopologyBuilder<X, Y, Z, W> {
    const edge: EdgeIR = {
      from,
      to,
      kind,
      transport: options.transport ?? 'latent',
      outerLink: options.outerLink === null ? null : linkIR(options.outerLink),
    };
    return new TopologyBuilder({ ...this.#state, edges: [...this.#state.edges, edge] });
  }
}

// ---- Type-level checks behind `build()` ----

/** Every problem the types can see, as readable messages (never when there is none). */
export type BuildProblems<
  A extends AgentTypes,
  F extends EdgeType,
  B extends EdgeType,
  D extends string,
> =
  | ([D] extends [never] ? 'no decoder: call .decode(<agent>) before .build()' : never)
  | UnknownSlots<A>
  | UnfilledSlots<A, F, B>
  | EdgesWithoutSlot<A, F, 'forward'>
  | EdgesWithoutSlot<A, B, 'feedback'>
  | OpenFeedback<F, B>;

/** Forces a union of messages to be computed, so error messages show the text itself. */
type Show<T> = T extends string ? `rmas: ${T}` : never;

type Checked<A extends AgentTypes> = {
  [N in NamesOf<A>]: A[N]['checked'] extends true ? N : never;
}[NamesOf<A>];

type UnknownSlots<A extends AgentTypes> = {
  [N in Checked<A>]: `agent "${N}": unknown slot {{${Exclude<A[N]['slots'], Slot>}}}`;
}[Checked<A>];

type SourcesInto<E extends EdgeType, To extends string> = E extends { from: infer S; to: To }
  ? S
  : never;
type TargetsOf<E extends EdgeType> = E extends { to: infer T } ? T : never;

type UnfilledSlots<A extends AgentTypes, F extends EdgeType, B extends EdgeType> = {
  [N in Checked<A>]:
    | `agent "${N}": slot {{latent:${Exclude<LatentSourcesOf<A[N]['slots']>, SourcesInto<F, N>>}}} is filled by no edge`
    | ('feedback' extends A[N]['slots']
        ? N extends TargetsOf<B>
          ? never
          : `agent "${N}": slot {{feedback}} is filled by no feedback edge`
        : never);
}[Checked<A>];

type EdgesWithoutSlot<A extends AgentTypes, E extends EdgeType, Kind extends EdgeKind> = E extends {
  from: infer S extends string;
  to: infer T extends Checked<A>;
}
  ? (Kind extends 'feedback' ? 'feedback' : `latent:${S}`) extends A[T]['slots']
    ? never
    : `edge ${S}->${T}: the prompt of "${T}" has no {{${Kind extends 'feedback' ? 'feedback' : `latent:${S}`}}} slot`
  : never;

/** Agents reachable from `Frontier` along the forward edges `F` (the frontier included). */
type Reach<F extends EdgeType, Frontier extends string, Seen extends string = never> = [
  Frontier,
] extends [never]
  ? Seen
  : Reach<F, Exclude<Next<F, Frontier>, Seen | Frontier>, Seen | Frontier>;
type Next<F extends EdgeType, From extends string> = F extends {
  from: From;
  to: infer T extends string;
}
  ? T
  : never;

type OpenFeedback<F extends EdgeType, B extends EdgeType> = B extends {
  from: infer S extends string;
  to: infer T extends string;
}
  ? S extends Reach<F, T>
    ? never
    : `feedback ${S}->${T} closes no loop: no forward path from "${T}" to "${S}"`
  : never;
