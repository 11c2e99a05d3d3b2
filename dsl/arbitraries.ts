/**
 * fast-check arbitraries of valid topologies, exported for property tests (ours and users'):
 * the paper's four patterns with random roles, and free-form graphs (a DAG of forward edges that
 * all lead to the decoder, plus feedback edges that each close a loop). Every generated IR passes
 * `validate` and is end-to-end differentiable in latent mode.
 */
import fc from 'fast-check';
import type { LinkOption } from './builder.ts';
import { linkIR } from './builder.ts';
import type { AgentIR, EdgeIR, LinkIR, ModelRef, TopologyIR } from './ir.ts';
import { IR_VERSION, LINK_INITS, LINK_VARIANTS } from './ir.ts';
import { deliberation } from './patterns/deliberation.ts';
import { distillation } from './patterns/distillation.ts';
import { mixture } from './patterns/mixture.ts';
import type { RoleConfig } from './patterns/role.ts';
import { sequential } from './patterns/sequential.ts';
import { toIR } from './topology.ts';

export type TopologyKind = 'sequential' | 'mixture' | 'distillation' | 'deliberation' | 'free';

export interface TopologyConstraints {
  /** Which shapes to draw from. @defaultValue all five */
  kinds?: readonly TopologyKind[];
  /** Hidden sizes to pick from. @defaultValue multiples of 8 from 8 to 64 */
  hiddenSizes?: readonly number[];
  /** Recursion rounds. @defaultValue 1 to 4 */
  rounds?: { min: number; max: number };
  /** Latent steps m per agent. @defaultValue 1 to 8 */
  latentSteps?: { min: number; max: number };
  /** Agents of a free-form graph. @defaultValue 1 to 5 */
  agents?: { min: number; max: number };
  /** Specialists of a mixture. @defaultValue 1 to 3 */
  specialists?: { min: number; max: number };
  /** The model an agent of a given width refers to. @defaultValue `{ preset: 'arbitrary-d<width>' }` */
  model?: (hiddenSize: number) => ModelRef;
}

const KINDS: readonly TopologyKind[] = [
  'sequential',
  'mixture',
  'distillation',
  'deliberation',
  'free',
];
const WIDTHS = [8, 16, 24, 32, 40, 48, 56, 64];

interface Resolved {
  kinds: readonly TopologyKind[];
  hiddenSizes: readonly number[];
  rounds: { min: number; max: number };
  latentSteps: { min: number; max: number };
  agents: { min: number; max: number };
  specialists: { min: number; max: number };
  model: (hiddenSize: number) => ModelRef;
}

/**
 * Valid topology IRs.
 * @example
 * fc.assert(fc.property(topologyArbitrary({ kinds: ['free'], rounds: { min: 2, max: 3 } }), (ir) => {
 *   expect(validate(ir)).toEqual([]);
 * }), { seed: 42 });
 */
export function topologyArbitrary(constraints: TopologyConstraints = {}): fc.Arbitrary<TopologyIR> {
  const c: Resolved = {
    kinds: constraints.kinds ?? KINDS,
    hiddenSizes: constraints.hiddenSizes ?? WIDTHS,
    rounds: constraints.rounds ?? { min: 1, max: 4 },
    latentSteps: constraints.latentSteps ?? { min: 1, max: 8 },
    agents: constraints.agents ?? { min: 1, max: 5 },
    specialists: constraints.specialists ?? { min: 1, max: 3 },
    model: constraints.model ?? ((d) => ({ preset: `arbitrary-d${d}` })),
  };
  const byKind: Record<TopologyKind, () => fc.Arbitrary<TopologyIR>> = {
    sequential: () => sequentialArbitrary(c),
    mixture: () => mixtureArbitrary(c),
    distillation: () => distillationArbitrary(c),
    deliberation: () => deliberationArbitrary(c),
    free: () => freeArbitrary(c),
  };
  return fc.oneof(...c.kinds.map((kind) => byKind[kind]()));
}

/** Agent names of the IR's grammar, short enough to read in a counterexample. */
export function agentNameArbitrary(): fc.Arbitrary<string> {
  return fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,7}$/);
}

function linkOptionArbitrary(): fc.Arbitrary<LinkIR> {
  return fc.record({
    variant: fc.constantFrom(...LINK_VARIANTS),
    init: fc.constantFrom(...LINK_INITS),
  });
}

function roleArbitrary(c: Resolved): fc.Arbitrary<RoleConfig> {
  return fc
    .record({
      hiddenSize: fc.constantFrom(...c.hiddenSizes),
      latentSteps: fc.integer(c.latentSteps),
      innerLink: linkOptionArbitrary(),
    })
    .map((role) => ({ ...role, model: c.model(role.hiddenSize) }));
}

function roundsArbitrary(c: Resolved) {
  return fc.record({
    max: fc.integer(c.rounds),
    epsilon: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 0.1, noNaN: true })),
  });
}

function decodeArbitrary() {
  return fc.record({
    maxNewTokens: fc.integer({ min: 1, max: 32 }),
    temperature: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 1.5, noNaN: true })),
    topP: fc.double({ min: 0.05, max: 1, noNaN: true }),
    maxToolRounds: fc.integer({ min: 0, max: 5 }),
  });
}

function patternOptionsArbitrary(c: Resolved) {
  return fc.record({
    rounds: roundsArbitrary(c),
    decode: decodeArbitrary(),
    outerLink: linkOptionArbitrary() as fc.Arbitrary<LinkOption>,
  });
}

function sequentialArbitrary(c: Resolved): fc.Arbitrary<TopologyIR> {
  return fc
    .record({
      planner: roleArbitrary(c),
      critic: roleArbitrary(c),
      solver: roleArbitrary(c),
      options: patternOptionsArbitrary(c),
    })
    .map(({ options, ...roles }) => toIR(sequential({ ...roles, ...options })));
}

function distillationArbitrary(c: Resolved): fc.Arbitrary<TopologyIR> {
  return fc
    .record({
      expert: roleArbitrary(c),
      learner: roleArbitrary(c),
      options: patternOptionsArbitrary(c),
    })
    .map(({ options, ...roles }) => toIR(distillation({ ...roles, ...options })));
}

function deliberationArbitrary(c: Resolved): fc.Arbitrary<TopologyIR> {
  return fc
    .record({
      reflector: roleArbitrary(c),
      toolCaller: roleArbitrary(c),
      options: patternOptionsArbitrary(c),
    })
    .map(({ options, ...roles }) => toIR(deliberation({ ...roles, ...options })));
}

function mixtureArbitrary(c: Resolved): fc.Arbitrary<TopologyIR> {
  const names = fc.uniqueArray(
    agentNameArbitrary().filter((name) => name !== 'summarizer'),
    { minLength: c.specialists.min, maxLength: c.specialists.max },
  );
  return fc
    .record({
      specialists: names.chain((keys) =>
        fc.tuple(...keys.map(() => roleArbitrary(c))).map((roles) => ({ keys, roles })),
      ),
      summarizer: roleArbitrary(c),
      options: patternOptionsArbitrary(c),
    })
    .map(({ specialists, summarizer, options }) => {
      const record = Object.fromEntries(
        specialists.keys.map((key, i) => [key, specialists.roles[i]!]),
      );
      return toIR(mixture({ specialists: record, summarizer, ...options }));
    });
}

/** Free text for prompts: no braces, so it never forms a slot. */
const promptText = fc.string({ maxLength: 12 }).map((text) => text.replace(/[{}]/g, ''));

/**
 * A free-form graph. Agents are drawn in an order that is a topological order of the forward
 * edges (each agent but the last gets at least one edge to a later one, so all reach the last,
 * which decodes); feedback edges go from an agent back to one that reaches it (or to itself), at
 * most one into each agent. Declaration order is then shuffled.
 */
function freeArbitrary(c: Resolved): fc.Arbitrary<TopologyIR> {
  return fc.integer(c.agents).chain((n) =>
    fc
      .record({
        names: fc.uniqueArray(agentNameArbitrary(), { minLength: n, maxLength: n }),
        roles: fc.array(roleArbitrary(c), { minLength: n, maxLength: n }),
        // extra[i][j]: forward edge i -> j (j > i) beyond the one that keeps i connected.
        extra: fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), {
          minLength: n,
          maxLength: n,
        }),
        firstTarget: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        // feedback[t]: undefined, or a pick among the agents t reaches.
        feedback: fc.array(fc.option(fc.nat(), { nil: undefined }), { minLength: n, maxLength: n }),
        readsQuestion: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        texts: fc.array(promptText, { minLength: n, maxLength: n }),
        slotOrder: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        outerLinks: fc.array(fc.option(linkOptionArbitrary(), { nil: null, freq: 4 }), {
          minLength: 2 * n * n,
          maxLength: 2 * n * n,
        }),
        declaration: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
        rounds: roundsArbitrary(c),
        decode: decodeArbitrary(),
        tools: fc.subarray(['javascript', 'search']),
        name: agentNameArbitrary(),
      })
      .map((g) => buildFree(n, g)),
  );
}

interface FreeDraw {
  names: string[];
  roles: RoleConfig[];
  extra: boolean[][];
  firstTarget: number[];
  feedback: (number | undefined)[];
  readsQuestion: boolean[];
  texts: string[];
  slotOrder: number[];
  outerLinks: (LinkIR | null)[];
  declaration: number[];
  rounds: TopologyIR['rounds'];
  decode: Omit<TopologyIR['decode'], 'agent'>;
  tools: string[];
  name: string;
}

function buildFree(n: number, g: FreeDraw): TopologyIR {
  const forward: [number, number][] = [];
  for (let i = 0; i < n - 1; i++) {
    const first = i + 1 + ((g.firstTarget[i] ?? 0) % (n - 1 - i));
    for (let j = i + 1; j < n; j++) if (j === first || g.extra[i]?.[j]) forward.push([i, j]);
  }
  const reaches = (from: number): Set<number> => {
    const seen = new Set([from]);
    for (let k = from; k < n; k++) {
      if (seen.has(k)) for (const [i, j] of forward) if (i === k) seen.add(j);
    }
    return seen;
  };
  const feedback: [number, number][] = [];
  for (let t = 0; t < n; t++) {
    const pick = g.feedback[t];
    if (pick === undefined) continue;
    const sources = [...reaches(t)].sort((a, b) => a - b);
    feedback.push([sources[pick % sources.length]!, t]);
  }
  const edgeOf = (i: number, j: number, kind: EdgeIR['kind'], k: number): EdgeIR => {
    const sameSize = g.roles[i]!.hiddenSize === g.roles[j]!.hiddenSize;
    const drawn = g.outerLinks[k] ?? null;
    return {
      from: g.names[i]!,
      to: g.names[j]!,
      kind,
      transport: 'latent',
      outerLink: drawn === null && sameSize ? null : (drawn ?? linkIR(undefined)),
    };
  };
  const edges = [
    ...forward.map(([i, j], k) => edgeOf(i, j, 'forward', k)),
    ...feedback.map(([i, j], k) => edgeOf(i, j, 'feedback', n * n + k)),
  ];
  const agents: AgentIR[] = g.names.map((name, i) => {
    const slots = [
      ...forward.filter(([, j]) => j === i).map(([s]) => `{{latent:${g.names[s]}}}`),
      ...(feedback.some(([, t]) => t === i) ? ['{{feedback}}'] : []),
      ...(g.readsQuestion[i] || i === 0 ? ['{{question}}'] : []),
    ];
    const rotation = slots.length === 0 ? 0 : (g.slotOrder[i] ?? 0) % slots.length;
    const ordered = [...slots.slice(rotation), ...slots.slice(0, rotation)];
    const role = g.roles[i]!;
    return {
      name,
      model: role.model as ModelRef,
      hiddenSize: role.hiddenSize,
      prompt: `${g.texts[i] ?? ''}${ordered.join(' ')}`,
      latentSteps: role.latentSteps ?? 1,
      innerLink: linkIR(role.innerLink),
      output: 'latent',
      tools: i === n - 1 ? g.tools : [],
    };
  });
  return {
    version: IR_VERSION,
    name: g.name,
    agents: g.declaration.map((i) => agents[i]!),
    edges,
    rounds: g.rounds,
    decode: { agent: g.names[n - 1]!, ...g.decode },
  };
}
