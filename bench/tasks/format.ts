/**
 * The task data format: one JSON object per line (JSONL). Only `question` and `answer` are
 * needed to evaluate; the gold role texts (`roles`) are what the agents and links train on.
 * See bench/tasks/README.md for the field list and how to bring your own file.
 */
import { readFileSync } from 'node:fs';

export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** The collaboration patterns the role texts are written for. */
export type PatternName = 'sequential' | 'mixture';

/** One task: a question every agent sees, and the exact answer the final agent must give. */
export interface TaskRecord {
  /** Unique in its file, e.g. `arith-test-0007`. */
  id: string;
  /** The task family (`arith`, `code`, `search`, or a user's own label). */
  family: string;
  split: Split;
  /** What fills `{{question}}` in every agent's prompt. */
  question: string;
  /** The expected final answer, compared with {@link extractAnswer} of the decoded text. */
  answer: string;
  /**
   * Gold role texts per pattern and role (the official dataset's `plan`, `refined_plan`,
   * `answer` columns): `roles.sequential.planner` is what the planner should think, etc.
   */
  roles?: Partial<Record<PatternName, Record<string, string>>>;
  /** The composition the question instantiates (e.g. the operators `+*-`). */
  composition?: string;
  /** The composition never occurs in the train and validation splits. */
  heldOut?: boolean;
}

/** Gold knowledge an agent learns besides its role texts: a recall prompt and the fact. */
export interface KnowledgeRecord {
  /** The network that must know it (`planner`, `critic`). */
  agent: string;
  prompt: string;
  target: string;
}

/** A line of a task file that is not a valid record. */
export class TaskFormatError extends Error {
  readonly code = 'INVALID_TASK_RECORD';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'TaskFormatError';
  }
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

/**
 * Checks one parsed line. Missing `id`, `family` and `split` get defaults (`line-<n>`, `custom`,
 * `test`), so a user's file needs only `question` and `answer`.
 *
 * @example parseTaskRecord({ question: '2+2?', answer: '4' }, 'my.jsonl', 1).id // 'line-1'
 */
export function parseTaskRecord(value: unknown, file: string, line: number): TaskRecord {
  const fail = (message: string): never => {
    throw new TaskFormatError(message, file, line);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('a record must be a JSON object');
  }
  const r = value as Record<string, unknown>;
  if (typeof r.question !== 'string' || r.question.trim() === '') {
    fail('"question" must be a non-empty string');
  }
  if (typeof r.answer !== 'string' && typeof r.answer !== 'number') {
    fail('"answer" must be a string (or a number)');
  }
  for (const field of ['id', 'family', 'composition'] as const) {
    if (r[field] !== undefined && typeof r[field] !== 'string') fail(`"${field}" must be a string`);
  }
  if (r.split !== undefined && !SPLITS.includes(r.split as Split)) {
    fail(`"split" must be one of ${SPLITS.join(', ')}, got ${JSON.stringify(r.split)}`);
  }
  if (r.heldOut !== undefined && typeof r.heldOut !== 'boolean')
    fail('"heldOut" must be a boolean');
  if (r.roles !== undefined) {
    if (typeof r.roles !== 'object' || r.roles === null || Array.isArray(r.roles)) {
      fail('"roles" must be an object of patterns');
    }
    for (const [pattern, roles] of Object.entries(r.roles as object)) {
      if (!isStringRecord(roles)) fail(`"roles.${pattern}" must map role names to strings`);
    }
  }
  return {
    id: (r.id as string | undefined) ?? `line-${line}`,
    family: (r.family as string | undefined) ?? 'custom',
    split: (r.split as Split | undefined) ?? 'test',
    question: r.question as string,
    answer: String(r.answer),
    ...(r.roles !== undefined ? { roles: r.roles as TaskRecord['roles'] } : {}),
    ...(r.composition !== undefined ? { composition: r.composition as string } : {}),
    ...(r.heldOut !== undefined ? { heldOut: r.heldOut as boolean } : {}),
  };
}

/**
 * Parses JSONL text (blank lines skipped). Throws {@link TaskFormatError} naming the first bad line,
 * and on duplicate ids.
 *
 * @example parseTaskJsonl('{"question":"2+2?","answer":"4"}\n').length // 1
 */
export function parseTaskJsonl(text: string, file = '<memory>'): TaskRecord[] {
  const records: TaskRecord[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new TaskFormatError(`not JSON (${(error as Error).message})`, file, line);
    }
    const record = parseTaskRecord(value, file, line);
    if (ids.has(record.id)) throw new TaskFormatError(`duplicate id ${record.id}`, file, line);
    ids.add(record.id);
    records.push(record);
  });
  return records;
}

/**
 * Reads a task file (what `rmas eval --data my.jsonl` does).
 *
 * @example const tasks = readTaskFile('bench/tasks/data/test.jsonl');
 */
export function readTaskFile(file: string): TaskRecord[] {
  return parseTaskJsonl(readFileSync(file, 'utf8'), file);
}

/** JSONL text of records, one per line, fields in a stable order. */
export function toJsonl(records: readonly object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}

/**
 * The final answer in a decoded text: what follows the last `=` if there is one, else the whole
 * text; trimmed, with a trailing period removed.
 *
 * @example extractAnswer('8 * 5 = 0') // '0'
 * @example extractAnswer(' world.') // 'world'
 */
export function extractAnswer(text: string): string {
  const afterEquals = text.includes('=') ? text.slice(text.lastIndexOf('=') + 1) : text;
  return afterEquals.trim().replace(/\.$/, '').trim();
}

/**
 * Exact match of the extracted answer (case and inner whitespace as given, ends trimmed).
 *
 * @example isCorrect('8 * 5 = 0', '0') // true
 */
export function isCorrect(decoded: string, answer: string): boolean {
  return extractAnswer(decoded) === answer.trim();
}
