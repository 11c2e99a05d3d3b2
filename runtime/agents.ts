/**
 * From the IR's model references to loaded agents: a preset name (models/presets.ts) or a local
 * Hugging Face folder. A registry loads each distinct reference once and shares it between the
 * agents that name it (a mixture of four agents on two presets holds two models); it owns what it
 * loaded and frees it on `dispose()`.
 */
import type { ModelRef, TopologyIR } from '../dsl/ir.ts';
import { loadAgent } from '../models/load.ts';
import { createPresetAgent, PRESET_NAMES } from '../models/presets.ts';
import type { Agent } from '../models/types.ts';
import { RuntimeError } from './errors.ts';

export interface AgentRegistry {
  /** The agent of a model reference, loaded on first use. */
  resolve(ref: ModelRef): Promise<Agent>;
  /** Frees every model this registry loaded. */
  dispose(): void;
}

export interface AgentRegistryOptions {
  /** Seed of the random weights of presets without trained weights. Default 1. */
  seed?: number;
}

/**
 * tfjs draws from Math.random when a random op's seed is 0, and the presets' init seeds their first
 * weight with the bare seed: seed 0 would give different weights in every process (and links
 * trained against one process's agents would not fit the next). 0 is therefore mapped to another
 * fixed seed.
 */
function presetSeed(seed: number): number {
  return seed === 0 ? 0x5eed : seed;
}

/**
 * A registry that loads presets and folders on demand and caches them.
 * @example
 * const registry = agentRegistry();
 * const agents = await resolveAgents(ir, registry);
 * // ... run ...
 * registry.dispose();
 */
export function agentRegistry(options: AgentRegistryOptions = {}): AgentRegistry {
  const cache = new Map<string, Promise<Agent>>();
  const loaded: Agent[] = [];
  let disposed = false;
  const load = async (ref: ModelRef): Promise<Agent> => {
    if ('preset' in ref) {
      if (!PRESET_NAMES.includes(ref.preset)) {
        throw new RuntimeError(
          'UNKNOWN_MODEL',
          `no preset named ${JSON.stringify(ref.preset)} (presets: ${PRESET_NAMES.join(', ')})`,
        );
      }
      return createPresetAgent(ref.preset, { seed: presetSeed(options.seed ?? 1) });
    }
    return loadAgent(ref.path);
  };
  return {
    resolve(ref) {
      const key = JSON.stringify(ref);
      let agent = cache.get(key);
      if (agent === undefined) {
        agent = load(ref).then((a) => {
          // Loaded after dispose(): nobody will free it later.
          if (disposed) a.model.dispose();
          else loaded.push(a);
          return a;
        });
        cache.set(key, agent);
        agent.catch(() => cache.delete(key));
      }
      return agent;
    },
    dispose() {
      disposed = true;
      for (const agent of loaded) agent.model.dispose();
      loaded.length = 0;
      cache.clear();
    },
  };
}

/**
 * The agent of every IR agent, by IR name: `given` first (agents the caller loaded), else the
 * registry. Checks each model's hidden size against the IR.
 * @example const agents = await resolveAgents(ir, registry, { planner: myPlanner });
 */
export async function resolveAgents(
  ir: TopologyIR,
  registry: AgentRegistry | undefined,
  given: Readonly<Record<string, Agent>> = {},
): Promise<Map<string, Agent>> {
  const agents = new Map<string, Agent>();
  for (const def of ir.agents) {
    const provided = given[def.name];
    if (provided === undefined && registry === undefined) {
      throw new RuntimeError(
        'AGENT_MISMATCH',
        `agent "${def.name}" was not given and no registry can load ${JSON.stringify(def.model)}`,
      );
    }
    agents.set(def.name, provided ?? (await registry!.resolve(def.model)));
  }
  checkAgents(ir, agents);
  return agents;
}

/**
 * Checks that every IR agent has a model of its declared hidden size.
 * @example checkAgents(ir, agents) // throws RuntimeError AGENT_MISMATCH
 */
export function checkAgents(ir: TopologyIR, agents: ReadonlyMap<string, Agent>): void {
  for (const def of ir.agents) {
    const agent = agents.get(def.name);
    if (agent === undefined) {
      throw new RuntimeError('AGENT_MISMATCH', `agent "${def.name}" has no model`);
    }
    const d = agent.model.config.hiddenSize;
    if (d !== def.hiddenSize) {
      throw new RuntimeError(
        'AGENT_MISMATCH',
        `agent "${def.name}" declares hidden size ${def.hiddenSize}, but its model ${JSON.stringify(def.model)} has ${d}`,
      );
    }
  }
}
