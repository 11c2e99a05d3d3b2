/**
 * `validate`: everything about a topology that the types cannot prove, as a list of issues.
 * It accepts anything (a typed IR, or JSON from a file), checks the shape first with the zod
 * schema, then the meaning with passes over the capability graph. It never throws halfway.
 */
import { differentiability } from './differentiability.ts';
import type { Graph } from './graph.ts';
import { graphOf, reachable, withinRound } from './graph.ts';
import type { TopologyIR } from './ir.ts';
import { edgeId, IR_VERSION } from './ir.ts';
import type { Issue } from './issues.ts';
import { TopologyError } from './issues.ts';
import { topologyIRSchema } from './schema.ts';
import { hasMalformedSlot, isKnownSlot } from './slots.ts';
import { isTopology } from './topology.ts';

/**
 * All issues of a topology or a topology IR (empty when it is valid).
 * @example
 * const issues = validate(JSON.parse(text));
 * for (const { code, path, message } of issues) console.log(code, path.join('.'), message);
 */
export function validate(ir: unknown): Issue[] {
  const shape = checkShape(ir);
  if (!shape.ok) return shape.issues;
  return semanticIssues(shape.ir);
}

/**
 * Throws a `TopologyError` carrying every issue when the IR is not valid; returns it typed.
 * @example const ir = assertValid(toIR(topology)); // then compile it
 */
export function assertValid(ir: unknown): TopologyIR {
  const shape = checkShape(ir);
  const issues = shape.ok ? semanticIssues(shape.ir) : shape.issues;
  if (!shape.ok || issues.length > 0) throw new TopologyError(issues);
  return shape.ir;
}

type ShapeResult = { ok: true; ir: TopologyIR } | { ok: false; issues: Issue[] };

/** The version first (another version's shape is unknown), then the zod schema. */
export function checkShape(value: unknown): ShapeResult {
  const input = isTopology(value) ? value.ir : value;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [issue('invalid-shape', [], 'a topology IR is a JSON object')] };
  }
  const version = (input as { version?: unknown }).version;
  if (version !== IR_VERSION) {
    const message = `IR version ${JSON.stringify(version)} is not supported; this rmas reads version ${IR_VERSION}`;
    return { ok: false, issues: [issue('unsupported-version', ['version'], message)] };
  }
  const parsed = topologyIRSchema.safeParse(input);
  if (parsed.success) return { ok: true, ir: parsed.data };
  return {
    ok: false,
    issues: parsed.error.issues.map((zodIssue) =>
      issue(
        'invalid-shape',
        zodIssue.path.map((key) => (typeof key === 'symbol' ? String(key) : key)),
        `${zodIssue.message} (${zodIssue.code})`,
      ),
    ),
  };
}

function issue(code: Issue['code'], path: Issue['path'], message: string): Issue {
  return { code, path, message };
}

/** The passes, in the order a reader fixes things: values, names, slots, structure, gradients. */
function semanticIssues(ir: TopologyIR): Issue[] {
  const graph = graphOf(ir, 'latent');
  return [
    ...valueIssues(ir),
    ...nameIssues(ir),
    ...slotIssues(graph),
    ...edgeIssues(graph),
    ...structureIssues(graph),
    ...differentiability(ir, 'latent').reasons.map((reason) =>
      issue('discrete-latent-edge', reason.path, reason.message),
    ),
    ...toolIssues(graph),
  ];
}

const isCount = (n: number, min: number): boolean => Number.isInteger(n) && n >= min;

function valueIssues(ir: TopologyIR): Issue[] {
  const issues: Issue[] = [];
  if (ir.agents.length === 0)
    issues.push(issue('no-agents', ['agents'], 'a topology needs at least one agent'));
  ir.agents.forEach((agent, i) => {
    if (!isCount(agent.hiddenSize, 1)) {
      issues.push(
        issue(
          'invalid-hidden-size',
          ['agents', i, 'hiddenSize'],
          `agent "${agent.name}": hidden size must be an integer >= 1, got ${agent.hiddenSize}`,
        ),
      );
    }
    if (!isCount(agent.latentSteps, 0)) {
      issues.push(
        issue(
          'invalid-latent-steps',
          ['agents', i, 'latentSteps'],
          `agent "${agent.name}": latent steps m must be an integer >= 0, got ${agent.latentSteps}`,
        ),
      );
    }
    const minCosine = agent.latentStop?.minCosine;
    if (minCosine !== undefined && !(minCosine > 0 && minCosine <= 1)) {
      issues.push(
        issue(
          'invalid-latent-stop',
          ['agents', i, 'latentStop', 'minCosine'],
          `agent "${agent.name}": latent stop minCosine must be in (0, 1], got ${minCosine}`,
        ),
      );
    }
  });
  if (!isCount(ir.rounds.max, 1)) {
    issues.push(
      issue(
        'invalid-rounds',
        ['rounds', 'max'],
        `rounds must be an integer >= 1, got ${ir.rounds.max}`,
      ),
    );
  }
  if (!(ir.rounds.epsilon >= 0)) {
    issues.push(
      issue(
        'invalid-epsilon',
        ['rounds', 'epsilon'],
        `epsilon must be >= 0 (0 disables early stopping), got ${ir.rounds.epsilon}`,
      ),
    );
  }
  const { maxNewTokens, temperature, topP, maxToolRounds } = ir.decode;
  const decodeChecks: [boolean, string, string][] = [
    [isCount(maxNewTokens, 1), 'maxNewTokens', `an integer >= 1, got ${maxNewTokens}`],
    [temperature >= 0, 'temperature', `>= 0 (0 is greedy), got ${temperature}`],
    [topP > 0 && topP <= 1, 'topP', `in (0, 1], got ${topP}`],
    [isCount(maxToolRounds, 0), 'maxToolRounds', `an integer >= 0, got ${maxToolRounds}`],
  ];
  for (const [ok, field, must] of decodeChecks) {
    if (!ok)
      issues.push(issue('invalid-decode', ['decode', field], `decode.${field} must be ${must}`));
  }
  return issues;
}

function nameIssues(ir: TopologyIR): Issue[] {
  const issues: Issue[] = [];
  const names = new Set<string>();
  ir.agents.forEach((agent, i) => {
    if (names.has(agent.name)) {
      issues.push(
        issue('duplicate-agent', ['agents', i, 'name'], `agent "${agent.name}" is declared twice`),
      );
    }
    names.add(agent.name);
  });
  ir.edges.forEach((edge, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!names.has(edge[end])) {
        issues.push(
          issue(
            'unknown-agent',
            ['edges', i, end],
            `edge ${edgeId(edge)}: no agent is named "${edge[end]}"`,
          ),
        );
      }
    }
  });
  if (!names.has(ir.decode.agent)) {
    issues.push(
      issue(
        'unknown-agent',
        ['decode', 'agent'],
        `the decoder "${ir.decode.agent}" is not an agent of the topology`,
      ),
    );
  }
  return issues;
}

function slotIssues(graph: Graph): Issue[] {
  const issues: Issue[] = [];
  let questionRead = false;
  for (const agent of graph.agents.values()) {
    const path = [...agent.path, 'prompt'];
    if (hasMalformedSlot(agent.def.prompt)) {
      issues.push(
        issue(
          'malformed-slot',
          path,
          `agent "${agent.id}": the prompt has a "{{" or "}}" that opens or closes no slot`,
        ),
      );
    }
    for (const slot of agent.slots) {
      if (slot === 'question') questionRead = true;
      if (!isKnownSlot(slot)) {
        issues.push(
          issue(
            'unknown-slot',
            path,
            `agent "${agent.id}": unknown slot {{${slot}}}; slots are {{question}}, {{feedback}} and {{latent:<agent>}}`,
          ),
        );
        continue;
      }
      if (slot === 'question') continue;
      const filled = graph.handoffs.some((h) => h.target === agent.id && h.slot === slot);
      if (!filled)
        issues.push(issue('unfilled-slot', path, unfilledMessage(graph, agent.id, slot)));
    }
  }
  if (graph.agents.size > 0 && !questionRead) {
    issues.push(
      issue(
        'question-unused',
        ['agents'],
        'no agent prompt has a {{question}} slot: the request would never enter the graph',
      ),
    );
  }
  return issues;
}

function unfilledMessage(graph: Graph, agent: string, slot: string): string {
  const head = `agent "${agent}": slot {{${slot}}} is filled by no edge`;
  if (slot === 'feedback') return `${head}; add a feedback edge into "${agent}"`;
  const source = slot.slice('latent:'.length);
  if (!graph.agents.has(source)) return `${head}; there is no agent "${source}"`;
  return `${head}; add a forward edge ${source}->${agent}`;
}

function edgeIssues(graph: Graph): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  const feedbackInto = new Set<string>();
  graph.ir.edges.forEach((edge, i) => {
    const id = edgeId(edge);
    if (seen.has(id))
      issues.push(issue('duplicate-edge', ['edges', i], `edge ${id} is declared twice`));
    seen.add(id);
  });
  for (const handoff of graph.handoffs) {
    const source = graph.agents.get(handoff.source);
    const target = graph.agents.get(handoff.target);
    if (source === undefined || target === undefined) continue;
    if (!target.slots.includes(handoff.slot)) {
      issues.push(
        issue(
          'edge-without-slot',
          [...handoff.path],
          `edge ${handoff.id}: the prompt of "${target.id}" has no {{${handoff.slot}}} slot to receive it`,
        ),
      );
    }
    const sizes = [source.def.hiddenSize, target.def.hiddenSize];
    if (handoff.def.outerLink === null && sizes[0] !== sizes[1]) {
      issues.push(
        issue(
          'hidden-size-mismatch',
          [...handoff.path, 'outerLink'],
          `edge ${handoff.id} has no outer link but maps hidden size ${sizes[0]} to ${sizes[1]}; give it an outer link`,
        ),
      );
    }
    if (handoff.capabilities.closesLoop) {
      if (feedbackInto.has(handoff.target)) {
        issues.push(
          issue(
            'ambiguous-feedback',
            [...handoff.path],
            `edge ${handoff.id}: "${handoff.target}" already has a feedback edge, and has one {{feedback}} slot`,
          ),
        );
      }
      feedbackInto.add(handoff.target);
    }
  }
  return issues;
}

function structureIssues(graph: Graph): Issue[] {
  const issues: Issue[] = [];
  // Forward cycles: an agent that reaches itself within a round. Reported once per cycle.
  const onCycle = new Set<string>();
  for (const name of graph.agents.keys()) {
    if (onCycle.has(name)) continue;
    const back = graph.handoffs.find(
      (h) =>
        withinRound(h) && h.target === name && reachable(graph, name, withinRound).has(h.source),
    );
    if (back === undefined) continue;
    const members = [...graph.agents.keys()].filter(
      (other) =>
        reachable(graph, name, withinRound).has(other) &&
        reachable(graph, other, withinRound).has(name),
    );
    for (const member of members) onCycle.add(member);
    issues.push(
      issue(
        'forward-cycle',
        [...back.path],
        `forward edges form a cycle through ${members.map((m) => `"${m}"`).join(', ')}; make one of them a feedback edge`,
      ),
    );
  }
  for (const handoff of graph.handoffs) {
    if (!handoff.capabilities.closesLoop) continue;
    if (!reachable(graph, handoff.target, withinRound).has(handoff.source)) {
      issues.push(
        issue(
          'feedback-closes-no-loop',
          [...handoff.path],
          `feedback edge ${handoff.id} closes no loop: there is no forward path from "${handoff.target}" to "${handoff.source}"`,
        ),
      );
    }
  }
  // Exits: every agent's output must reach the decoder, in this round or a later one.
  const decoder = graph.ir.decode.agent;
  if (!graph.agents.has(decoder)) return issues;
  const stuck = [...graph.agents.keys()].filter((name) => !reachable(graph, name).has(decoder));
  const reported = new Set<string>();
  for (const name of stuck) {
    if (reported.has(name)) continue;
    const cycle = stuck.filter(
      (other) =>
        reachable(graph, name).has(other) &&
        reachable(graph, other).has(name) &&
        isCyclic(graph, name),
    );
    const path = [...(graph.agents.get(name)?.path ?? [])];
    if (cycle.length > 0) {
      for (const member of cycle) reported.add(member);
      issues.push(
        issue(
          'cycle-without-exit',
          path,
          `agents ${cycle.map((m) => `"${m}"`).join(', ')} form a recursion cycle that never reaches the decoder "${decoder}"`,
        ),
      );
    } else {
      reported.add(name);
      issues.push(
        issue(
          'unreachable-agent',
          path,
          `the output of agent "${name}" never reaches the decoder "${decoder}"`,
        ),
      );
    }
  }
  return issues;
}

/** True when an agent lies on some cycle (through any edges). */
function isCyclic(graph: Graph, name: string): boolean {
  return graph.handoffs.some((h) => h.target === name && reachable(graph, name).has(h.source));
}

function toolIssues(graph: Graph): Issue[] {
  const issues: Issue[] = [];
  for (const agent of graph.agents.values()) {
    if (agent.def.tools.length > 0 && !agent.capabilities.decodesText) {
      issues.push(
        issue(
          'tools-without-decoding',
          [...agent.path, 'tools'],
          `agent "${agent.id}" has tools but never decodes text, so it can never call them; tools belong to the decoder`,
        ),
      );
    }
  }
  return issues;
}
