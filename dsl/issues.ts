/**
 * Problems found in a topology, as data (zod's model): `validate` and `parseIR` return lists of
 * these and never throw halfway. Only `assertValid` throws, once, with the whole list.
 */

/** Stable codes; a message can change wording, a code cannot. */
export const ISSUE_CODES = [
  /** The JSON does not have the IR's shape (a zod issue; its own code is in the message). */
  'invalid-shape',
  'unsupported-version',
  'no-agents',
  'duplicate-agent',
  'unknown-agent',
  'duplicate-edge',
  'invalid-hidden-size',
  'invalid-latent-steps',
  'invalid-latent-stop',
  'invalid-rounds',
  'invalid-epsilon',
  'invalid-decode',
  /** A `{{...}}` whose name is not in the slot grammar. */
  'unknown-slot',
  /** A lone `{{` or `}}`. */
  'malformed-slot',
  /** A slot of an agent's prompt that no edge fills. */
  'unfilled-slot',
  /** An edge whose target's prompt has no slot for it. */
  'edge-without-slot',
  /** Two feedback edges into one agent: its single `{{feedback}}` slot is ambiguous. */
  'ambiguous-feedback',
  /** Forward edges that form a cycle: no order to run them in within a round. */
  'forward-cycle',
  /** A feedback edge with no forward path back from its target to its source. */
  'feedback-closes-no-loop',
  /** A recursion cycle (through feedback) from which the decoder cannot be reached. */
  'cycle-without-exit',
  /** An agent whose output never reaches the decoder. */
  'unreachable-agent',
  /** No agent reads `{{question}}`: the request would never enter the graph. */
  'question-unused',
  'hidden-size-mismatch',
  /** A latent hand-off that passes through argmax, sampling or tokenisation. */
  'discrete-latent-edge',
  /** Tools on an agent that never decodes: it could never call them. */
  'tools-without-decoding',
] as const;
export type IssueCode = (typeof ISSUE_CODES)[number];

export interface Issue {
  code: IssueCode;
  /** Where in the IR, as zod paths are: `['edges', 2, 'to']`. */
  path: (string | number)[];
  message: string;
}

/** Thrown by `assertValid`: the topology has issues; all of them are in `issues`. */
export class TopologyError extends Error {
  readonly code = 'invalid-topology' as const;
  readonly issues: readonly Issue[];

  constructor(issues: readonly Issue[]) {
    const list = issues.map(
      (issue) => `  - [${issue.code}] ${formatPath(issue.path)}: ${issue.message}`,
    );
    super(
      `Invalid topology (${issues.length} issue${issues.length === 1 ? '' : 's'}):\n${list.join('\n')}`,
    );
    this.name = 'TopologyError';
    this.issues = issues;
  }
}

/**
 * Renders an issue path the way a user would write it.
 * @example formatPath(['edges', 2, 'to']) // 'edges[2].to'
 */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`))
    .join('');
}
