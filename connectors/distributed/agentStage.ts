/**
 * A worker's side of the runtime: the topology's plan with only this worker's agent loaded, and
 * its stage run with the engine's failure isolation. The stage functions are the plan's own, the
 * ones `compile` runs in process.
 */
import type { TopologyIR } from '../../dsl/index.ts';
import type { Agent } from '../../models/types.ts';
import type { SearchDocument } from '../../operators/tools/search.ts';
import type { Tool } from '../../operators/tools/tool.ts';
import {
  type AgentRegistry,
  agentRegistry,
  buildPlan,
  createLinks,
  disposeLinks,
  type LinkSet,
  type LinksOption,
  loadLinks,
  type RequestState,
  RuntimeError,
  resolveAgents,
  type Stage,
  type TopologyPlan,
} from '../../runtime/index.ts';
import { DistributedError } from './distributedError.ts';

/** Where a worker's agent, links and tools come from. */
export interface AgentPlanOptions {
  /** Links: a LinkSet, `{ seed }` (default `{ seed: 0 }`, as `compile`) or `{ dir }`. */
  links?: LinksOption;
  /** Seed of presets' random weights (default 1, as `compile`). */
  seed?: number;
  /** This agent's model already loaded (by IR name); otherwise loaded from the IR's reference. */
  agents?: Readonly<Record<string, Agent>>;
  registry?: AgentRegistry;
  tools?: Readonly<Record<string, Tool>>;
  documents?: readonly SearchDocument[];
}

/** What distributed mode runs: latent mode, fixed rounds. */
export function checkRunnable(ir: TopologyIR, agent: string): void {
  if (!ir.agents.some((a) => a.name === agent)) {
    throw new DistributedError(
      'unknown_agent',
      `no agent "${agent}" in topology "${ir.name}" (agents: ${ir.agents.map((a) => a.name).join(', ')})`,
    );
  }
  if (ir.rounds.epsilon > 0) {
    // The convergence test compares the feedback latents of two rounds, which no single worker sees.
    throw new DistributedError(
      'unsupported_topology',
      `topology "${ir.name}" stops early (rounds.epsilon = ${ir.rounds.epsilon}); distributed mode runs all ${ir.rounds.max} rounds: set epsilon to 0`,
    );
  }
}

/** What a worker needs of the plan, and how to free what it loaded. */
export interface AgentPlan {
  plan: TopologyPlan;
  release: () => void;
}

/**
 * The topology's plan with only this worker's agent loaded. The plan wants every agent; the others
 * stand in as their declared shape (only hidden sizes are read when building it) and fail loudly
 * if anything ever runs them. Links are all made or loaded (they are small); a ridge-initialised
 * link made here needs the real models at both its ends, so then every agent is loaded.
 */
export async function prepareAgentPlan(
  ir: TopologyIR,
  me: string,
  options: AgentPlanOptions,
): Promise<AgentPlan> {
  const ownedRegistry =
    options.registry === undefined ? agentRegistry({ seed: options.seed }) : undefined;
  const registry = options.registry ?? ownedRegistry!;
  let ownedLinks: LinkSet | undefined;
  const release = () => {
    if (ownedLinks !== undefined) disposeLinks(ownedLinks);
    ownedRegistry?.dispose();
  };
  try {
    const given = options.links;
    const makesRidge =
      !(given instanceof Map) &&
      !(given !== undefined && 'dir' in given) &&
      (ir.agents.some((a) => a.innerLink.init === 'ridge') ||
        ir.edges.some((e) => e.outerLink?.init === 'ridge'));
    const stand = Object.fromEntries(
      ir.agents.filter((a) => a.name !== me).map((a) => [a.name, standIn(a.name, a.hiddenSize)]),
    );
    const agents = await resolveAgents(ir, registry, {
      ...(makesRidge ? {} : stand),
      ...options.agents,
    });
    let links: LinkSet;
    if (given instanceof Map) links = given;
    else if (given !== undefined && 'dir' in given)
      links = ownedLinks = await loadLinks(ir, given.dir);
    else {
      const seed = (given as { seed?: number } | undefined)?.seed ?? 0;
      links = ownedLinks = createLinks(ir, { seed, agents });
    }
    const plan = buildPlan(ir, {
      agents,
      links,
      mode: 'latent',
      ...(options.tools ? { tools: options.tools } : {}),
      ...(options.documents ? { documents: options.documents } : {}),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    return { plan, release };
  } catch (error) {
    release();
    throw error;
  }
}

/** An agent this worker does not run: its hidden size, and an error for any other use. */
function standIn(name: string, hiddenSize: number): Agent {
  const refuse = (what: string) => () => {
    throw new DistributedError(
      'invalid_options',
      `agent "${name}" runs in its own worker; this worker cannot use its ${what}`,
    );
  };
  const model = new Proxy(
    { config: { hiddenSize } },
    {
      get: (target, key) => {
        if (key === 'config') return target.config;
        // Symbols and `then` are probed by inspection and by await: not a use.
        if (typeof key === 'symbol' || key === 'then') return undefined;
        return refuse(`model.${key}`)();
      },
    },
  );
  const tokenizer = new Proxy(
    {},
    {
      get: (_, key) =>
        typeof key === 'symbol' || key === 'then' ? undefined : refuse(`tokenizer.${key}`)(),
    },
  );
  return { name, model, tokenizer } as unknown as Agent;
}

export type StageOutcome = { ok: true; state: RequestState } | { ok: false; error: unknown };

/** Runs a stage on a batch; a failed batch is retried request by request (as the engine does). */
export async function runIsolated(
  stage: Stage<RequestState>,
  states: RequestState[],
): Promise<StageOutcome[]> {
  try {
    const out = await stage.run(states);
    if (out.length !== states.length) {
      throw new RuntimeError(
        'STAGE_CONTRACT',
        `stage ${stage.id} returned ${out.length} states for a batch of ${states.length}`,
      );
    }
    return out.map((state) => ({ ok: true, state }));
  } catch (error) {
    if (states.length === 1) return [{ ok: false, error }];
    const outcomes: StageOutcome[] = [];
    for (const state of states) outcomes.push((await runIsolated(stage, [state]))[0]!);
    return outcomes;
  }
}
