/**
 * What a reader serves: which topology ids at which versions, and each agent's hidden size.
 * Inputs naming anything else are rejected with `unknown_topology`, `unknown_topology_version`
 * or `unknown_agent`.
 */
export interface ServedTopology {
  id: string;
  version: number;
  /** Agent name -> the size of its input-embedding space. */
  agents: Readonly<Record<string, { hiddenSize: number }>>;
}

/**
 * The topologies a pipeline serves.
 *
 * @example
 * const catalog = topologyCatalog([{ id: 'math', version: 2, agents: { planner: { hiddenSize: 2048 } } }]);
 */
export interface TopologyCatalog {
  /** All served versions of an id (empty when the id is unknown). */
  versionsOf(id: string): readonly ServedTopology[];
}

/**
 * Builds a catalog from a list of served topologies.
 *
 * @example topologyCatalog([{ id: 'echo', version: 1, agents: { echo: { hiddenSize: 8 } } }])
 */
export function topologyCatalog(topologies: readonly ServedTopology[]): TopologyCatalog {
  const byId = new Map<string, ServedTopology[]>();
  for (const topology of topologies) {
    const versions = byId.get(topology.id) ?? [];
    versions.push(topology);
    byId.set(topology.id, versions);
  }
  return { versionsOf: (id) => byId.get(id) ?? [] };
}
