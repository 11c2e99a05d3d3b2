import { graphOf, withinRound } from './graph.ts';
import type { TopologyIR } from './ir.ts';

/**
 * The order in which agents run inside one round: a topological order of the forward edges,
 * ties broken by declaration order (so it is deterministic). Meaningful for a valid IR; agents on a
 * forward cycle (which `validate` reports) come last, in declaration order.
 * @example executionOrder(sequential(config).ir) // ['planner', 'critic', 'solver']
 */
export function executionOrder(ir: TopologyIR): string[] {
  const graph = graphOf(ir, 'latent');
  const names = [...graph.agents.keys()];
  const inward = new Map(names.map((name) => [name, 0]));
  const inRound = graph.handoffs.filter(withinRound);
  for (const handoff of inRound) inward.set(handoff.target, (inward.get(handoff.target) ?? 0) + 1);
  const order: string[] = [];
  const done = new Set<string>();
  for (;;) {
    const next = names.find((name) => !done.has(name) && inward.get(name) === 0);
    if (next === undefined) break;
    done.add(next);
    order.push(next);
    for (const handoff of inRound) {
      if (handoff.source === next)
        inward.set(handoff.target, (inward.get(handoff.target) ?? 0) - 1);
    }
  }
  return [...order, ...names.filter((name) => !done.has(name))];
}
