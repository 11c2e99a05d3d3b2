/**
 * `rmas run --quick` (`npm start`) and `rmas eval --data`: the paper's efficiency table (single
 * agent, Recursive-TextMAS, RecursiveMAS at r = 1, 2, 3: accuracy, time, output tokens) on the
 * shipped agents and links, through bench/table2.ts — on the embedded test questions (quick) or on
 * a user's JSONL file. Never overwrites the committed bench/results/table2.*.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { TaskRecord } from '../../bench/tasks/index.ts';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';

export interface TableOptions {
  /** Quick: questions per task family; eval: the first n questions. */
  limit?: number;
  repetitions?: number;
  rounds?: number[];
  batchSize?: number;
  /** Folder holding `<preset>/` network folders (default the shipped models/presets/weights). */
  weights?: string;
  /** Folder holding `sequential/` links (default the shipped models/presets/weights/links). */
  links?: string;
  /** Also draw the table as an SVG. */
  plot?: string;
}

export interface EvalOptions extends TableOptions {
  data: string;
}

/** Questions per family in the quick table when --limit is not given (bench/table2's quick set). */
export const QUICK_PER_FAMILY = 8;

/**
 * The quick set: per family of the shipped test split, held-out compositions first.
 * @example quickTasks(2).length // 6: 2 arith, 2 code, 2 search
 */
export async function quickTasks(perFamily: number): Promise<TaskRecord[]> {
  const { buildTaskSplits } = await import('../../bench/tasks/index.ts');
  const byFamily = new Map<string, TaskRecord[]>();
  for (const t of buildTaskSplits().test)
    byFamily.set(t.family, [...(byFamily.get(t.family) ?? []), t]);
  return [...byFamily.values()].flatMap((records) =>
    [...records].sort((a, b) => Number(b.heldOut) - Number(a.heldOut)).slice(0, perFamily),
  );
}

/**
 * The main job's short table.
 * @example await quickTable({ limit: 2, repetitions: 1 }, out);
 */
export async function quickTable(options: TableOptions, out: Output): Promise<void> {
  const tasks = await quickTasks(options.limit ?? QUICK_PER_FAMILY);
  await table(tasks, options, out, 'quick');
}

/**
 * The table on a user's file (`{"question", "answer"}` per line, bench/tasks/README.md).
 * @example await evaluate({ data: 'my.jsonl' }, out);
 */
export async function evaluate(options: EvalOptions, out: Output): Promise<void> {
  if (!existsSync(options.data)) {
    throw new CliError('INPUT', `data file not found: ${options.data}`, {
      hint: 'pass a JSONL file with one {"question": "…", "answer": "…"} per line (format: bench/tasks/README.md)',
    });
  }
  const { readTaskFile } = await import('../../bench/tasks/index.ts');
  const all = readTaskFile(options.data);
  if (all.length === 0) {
    throw new CliError('INPUT', `${options.data}: no questions (the file is empty)`);
  }
  await table(
    options.limit !== undefined ? all.slice(0, options.limit) : all,
    options,
    out,
    options.data,
  );
}

async function table(
  tasks: TaskRecord[],
  options: TableOptions,
  out: Output,
  source: string,
): Promise<void> {
  const table2 = await import('../../bench/table2.ts');
  const { LINKS_DIR } = await import('../../bench/agents/trainLinks.ts');
  const linksDir = resolve(options.links ?? LINKS_DIR);
  if (!existsSync(join(linksDir, 'sequential'))) {
    throw new CliError(
      options.links === undefined ? 'UNAVAILABLE' : 'INPUT',
      options.links === undefined
        ? 'the shipped agents and links are not in this checkout (models/presets/weights/)'
        : `no trained links at ${join(linksDir, 'sequential')}`,
      {
        hint:
          options.links === undefined
            ? 'train them with `npx tsx bench/agents/train.ts` (about an hour on 2 cores; see bench/agents/README.md)'
            : '--links is a folder with a sequential/ subfolder, as bench/agents/train.ts writes it',
      },
    );
  }
  const { initBackend } = await import('../../runtime/backend/index.ts');
  await initBackend({ log: out.verbose ? (line) => out.debug(line) : false });
  out.note(
    `rmas: ${tasks.length} questions from ${source}; every method in turn, median of ${options.repetitions ?? 3}`,
  );
  const bar = out.progress(1, 'table');
  const started = performance.now();
  let result: Awaited<ReturnType<typeof table2.runTable2>>;
  try {
    result = await table2.runTable2({
      tasks,
      write: false,
      linksDir,
      ...(options.weights !== undefined ? { weightsRoot: resolve(options.weights) } : {}),
      ...(options.repetitions !== undefined ? { repetitions: options.repetitions } : {}),
      ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onProgress: ({ done, total, label }) => {
        bar.setTotal(total);
        bar.update(done, label);
        if (!bar.visible) out.debug(`[${done}/${total}] ${label}`);
      },
    });
  } finally {
    bar.stop();
  }
  const wallMs = performance.now() - started;
  if (options.plot !== undefined) {
    const file = resolve(options.plot);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, await table2.table2Svg(result));
    out.note(`rmas: chart written to ${file}`);
  }
  const targets = table2.table2Targets(result);
  if (out.json) {
    out.emit({ source, ...result, targets, wallMs });
    return;
  }
  out.print(table2.formatTable2(result));
  if (targets.length > 0) {
    out.print('');
    for (const t of targets) {
      const met = t.op === '>=' ? t.value >= t.target : t.value <= t.target;
      out.print(`${met ? '✓' : '✗'} ${t.name}: ${t.value.toFixed(3)} (target ${t.op} ${t.target})`);
    }
  }
  out.print(
    `\n${(wallMs / 1000).toFixed(1)} s. The full table (test split, 3 repetitions): bench/results/table2.md`,
  );
}
