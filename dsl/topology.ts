import type { TopologyIR } from './ir.ts';

/**
 * A built topology: the IR plus, in the type only, its agent names and decoder, so that APIs over
 * a topology (per-agent models, per-agent overrides) can be typed by name.
 */
export interface Topology<Names extends string = string, Decoder extends string = string> {
  readonly kind: 'rmas.topology';
  /** Deeply frozen; `toIR` gives a plain, mutable copy. */
  readonly ir: TopologyIR;
  /** Phantom (never set at run time), like zod's `_zod.output`. */
  readonly _types?: { readonly agents: Names; readonly decoder: Decoder };
}

/** The agent names of a topology: `AgentNames<typeof t>` is `'planner' | 'critic' | 'solver'`. */
export type AgentNames<T> = T extends Topology<infer Names, string> ? Names : never;

/** The decoder of a topology: `DecoderName<typeof t>` is `'solver'`. */
export type DecoderName<T> = T extends Topology<string, infer Decoder> ? Decoder : never;

/** True for a value built by `topology().…build()` or a pattern. */
export function isTopology(value: unknown): value is Topology {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'rmas.topology'
  );
}

/**
 * A plain, mutable, JSON-ready copy of a topology's IR.
 * @example writeFileSync('topology.json', JSON.stringify(toIR(sequential(config)), null, 2));
 */
export function toIR(topology: Topology | TopologyIR): TopologyIR {
  return structuredClone(isTopology(topology) ? topology.ir : topology);
}

/** Wraps an IR (for instance one `parseIR` returned) as a topology, untyped by name. */
export function fromIR(ir: TopologyIR): Topology {
  return { kind: 'rmas.topology', ir: deepFreeze(structuredClone(ir)) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
