/**
 * Who sends what to whom in distributed mode: the rounds of the in-process runtime (runtime/plan.ts)
 * unrolled into hand-offs between agents' workers.
 *
 * In round r an agent needs the latents of its forward sources from round r and, from round 2
 * on, those of its feedback sources from round r − 1. When it has them all it runs its stage and
 * sends its own latents along each out-edge: forward edges to the same round, feedback edges to
 * the next one (the recursion is this cycle of topics). In the last round only the agents the
 * decoder depends on run, then the decoder decodes and writes the answer. An agent with no input
 * in a round (no forward source; no feedback source, or round 1) is started by a Request instead:
 * round 1 from the requests topic, later rounds by a trigger the first agent of the previous round
 * sends.
 */
import type { TopologyIR } from '../../dsl/index.ts';

/** Which edge a hand-off travels: same round (`forward`) or into the next round (`feedback`). */
export type EdgeKind = 'forward' | 'feedback';

/** One input of an agent's round: the latents of `source` along an edge of `kind`. */
export interface InputSlot {
  readonly kind: EdgeKind;
  readonly source: string;
}

/** What an agent's worker sends after running a round. */
export type Hop =
  /** Its latents to `to`, for `to`'s round `round` (this round for forward edges, the next for feedback). */
  | {
      readonly kind: 'latent';
      readonly edge: EdgeKind;
      readonly to: string;
      readonly round: number;
    }
  /** A start signal for an agent with no inputs in `round`. */
  | { readonly kind: 'trigger'; readonly to: string; readonly round: number }
  /** The answer (the decoder, last round). */
  | { readonly kind: 'answer' };

export interface AgentRoute {
  readonly agent: string;
  readonly maxRounds: number;
  /** Reads the requests topic: it has no input in round 1. */
  readonly readsRequests: boolean;
  /** Whether the agent runs in `round` (every agent before the last round; in it, the decoder's ancestors and the decoder). */
  runsIn(round: number): boolean;
  /** The inputs it waits for in `round` (empty: a Request starts it). */
  inputsOf(round: number): readonly InputSlot[];
  /** `decode` for the decoder in the last round, else `latent`. */
  stageOf(round: number): 'latent' | 'decode';
  /** What it sends after running `round`. */
  hopsAfter(round: number): readonly Hop[];
}

/** What a route needs from the plan: the execution order and the agents of the last round. */
export interface RouteShape {
  /** Agents in execution order (`TopologyPlan.order`). */
  readonly order: readonly string[];
  /** The agents the last round runs before the decoder (`TopologyPlan.finalAgents`). */
  readonly finalAgents: readonly string[];
}

/**
 * The route of every agent of a topology.
 *
 * @example
 * const routes = topologyRoutes(plan.ir, plan);
 * routes.get('critic')!.inputsOf(1) // [{ kind: 'forward', source: 'planner' }]
 */
export function topologyRoutes(ir: TopologyIR, shape: RouteShape): ReadonlyMap<string, AgentRoute> {
  const maxRounds = ir.rounds.max;
  const decoder = ir.decode.agent;
  const lastRound = new Set([...shape.finalAgents, decoder]);
  const runsIn = (agent: string, round: number) =>
    round >= 1 && round <= maxRounds && (round < maxRounds || lastRound.has(agent));
  const sources = (agent: string, kind: EdgeKind) => [
    ...new Set(ir.edges.filter((e) => e.to === agent && e.kind === kind).map((e) => e.from)),
  ];
  const inputsOf = (agent: string, round: number): InputSlot[] => [
    ...sources(agent, 'forward').map((source) => ({ kind: 'forward' as const, source })),
    ...(round > 1
      ? sources(agent, 'feedback').map((source) => ({ kind: 'feedback' as const, source }))
      : []),
  ];
  const first = shape.order[0];

  const routes = new Map<string, AgentRoute>();
  for (const { name } of ir.agents) {
    const targets = (kind: EdgeKind) => [
      ...new Set(ir.edges.filter((e) => e.from === name && e.kind === kind).map((e) => e.to)),
    ];
    routes.set(name, {
      agent: name,
      maxRounds,
      readsRequests: inputsOf(name, 1).length === 0,
      runsIn: (round) => runsIn(name, round),
      inputsOf: (round) => inputsOf(name, round),
      stageOf: (round) => (name === decoder && round === maxRounds ? 'decode' : 'latent'),
      hopsAfter(round) {
        if (name === decoder && round === maxRounds) return [{ kind: 'answer' }];
        const hops: Hop[] = [];
        for (const to of targets('forward')) {
          if (runsIn(to, round)) hops.push({ kind: 'latent', edge: 'forward', to, round });
        }
        for (const to of targets('feedback')) {
          if (runsIn(to, round + 1))
            hops.push({ kind: 'latent', edge: 'feedback', to, round: round + 1 });
        }
        if (name === first) {
          for (const other of shape.order) {
            if (round > 0 && runsIn(other, round + 1) && inputsOf(other, round + 1).length === 0) {
              hops.push({ kind: 'trigger', to: other, round: round + 1 });
            }
          }
        }
        return hops;
      },
    });
  }
  return routes;
}
