/**
 * Usage in distributed mode. Each worker reports what its own stage spent as rows tagged with who
 * computed them (`by`, `byRound`); rows travel with the hand-offs (header `rmas-usage`) and are
 * merged by that tag, so a row that reaches the decoder along several paths of a fan-in counts
 * once. The decoder sums them per (agent, round): the same table the in-process runtime reports.
 */
import { type AnswerUsage, answerUsage, type RequestState } from '../../runtime/index.ts';

/** One (agent, round) usage row, and the stage that produced it. */
export interface UsageRow extends AnswerUsage {
  /** The agent whose stage computed the row (a transfer row names the source agent in `agent`). */
  by: string;
  /** The round of that stage. */
  byRound: number;
}

const numberFields = [
  'round',
  'byRound',
  'promptTokens',
  'generatedTokens',
  'latentSteps',
  'flops',
  'wallMs',
] as const;

/**
 * The rows of one stage run: its ledger entries summed per (agent, round).
 *
 * @example stageUsageRows(stateAfterStage, 'critic', 2)
 */
export function stageUsageRows(
  state: Pick<RequestState, 'usage'>,
  by: string,
  byRound: number,
): UsageRow[] {
  return answerUsage(state.usage).map((row) => ({ ...row, by, byRound }));
}

/**
 * Rows from several hand-offs, each stage's rows once (the first copy wins).
 *
 * @example mergeUsageRows([rowsFromMath, rowsFromCode])
 */
export function mergeUsageRows(lists: readonly (readonly UsageRow[])[]): UsageRow[] {
  const byKey = new Map<string, UsageRow>();
  for (const rows of lists) {
    for (const row of rows) {
      const key = `${row.by}\u0000${row.byRound}\u0000${row.agent}\u0000${row.round}`;
      if (!byKey.has(key)) byKey.set(key, row);
    }
  }
  return [...byKey.values()];
}

/**
 * The answer's usage: rows summed per (agent, round), ordered by round, then by execution order.
 *
 * @example answerUsageOf(rows, plan.order) // [{ agent: 'math', round: 1, ... }, ...]
 */
export function answerUsageOf(rows: readonly UsageRow[], order: readonly string[]): AnswerUsage[] {
  const byKey = new Map<string, AnswerUsage>();
  for (const row of rows) {
    const key = `${row.agent}\u0000${row.round}`;
    let sum = byKey.get(key);
    if (sum === undefined) {
      const { agent, round } = row;
      sum = {
        agent,
        round,
        promptTokens: 0,
        generatedTokens: 0,
        latentSteps: 0,
        flops: 0,
        wallMs: 0,
      };
      byKey.set(key, sum);
    }
    sum.promptTokens += row.promptTokens;
    sum.generatedTokens += row.generatedTokens;
    sum.latentSteps += row.latentSteps;
    sum.flops += row.flops;
    sum.wallMs += row.wallMs;
  }
  const rank = (agent: string) => {
    const at = order.indexOf(agent);
    return at < 0 ? order.length : at;
  };
  return [...byKey.values()].sort((a, b) => a.round - b.round || rank(a.agent) - rank(b.agent));
}

/** Rows as the `rmas-usage` header carries them (JSON). */
export function encodeUsageRows(rows: readonly UsageRow[]): string {
  return JSON.stringify(rows);
}

/**
 * Parses a `rmas-usage` header; returns a reason string when it is not a list of rows.
 *
 * @example decodeUsageRows('[]') // []
 */
export function decodeUsageRows(text: string): UsageRow[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (!Array.isArray(parsed)) return 'is not a JSON array';
  for (const [i, row] of parsed.entries()) {
    const r = row as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object') return `[${i}] is not an object`;
    if (typeof r['agent'] !== 'string' || typeof r['by'] !== 'string') {
      return `[${i}] needs string fields agent and by`;
    }
    for (const field of numberFields) {
      if (typeof r[field] !== 'number' || !Number.isFinite(r[field])) {
        return `[${i}].${field} is not a finite number`;
      }
    }
  }
  return parsed as UsageRow[];
}
