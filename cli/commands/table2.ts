/**
 * `rmas run --quick` and `rmas eval --data`: the paper's efficiency table (single agent,
 * Recursive-TextMAS, RecursiveMAS at r = 1, 2, 3) on the shipped agents, on the embedded tasks
 * (quick) or on a user's JSONL file. The engine is bench/table2.ts (issue 7), not in this build yet.
 */
import { existsSync } from 'node:fs';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';

export interface QuickOptions {
  /** Questions per family (a smaller, faster table). */
  limit?: number;
}

export interface EvalOptions {
  data: string;
  limit?: number;
  rounds?: number[];
  plot?: string;
}

const PENDING_HINT =
  'meanwhile `rmas run --input <file.jsonl>` answers questions with one topology, and `rmas bench latent` measures latent vs text steps';

/**
 * The main job's short table.
 * @example await quickTable({}, out);
 */
export async function quickTable(_options: QuickOptions, out: Output): Promise<never> {
  out.debug('rmas: looking for bench/table2.ts');
  throw new CliError(
    'UNAVAILABLE',
    'the efficiency table (bench/table2.ts) is not in this build yet',
    {
      hint: PENDING_HINT,
    },
  );
}

/**
 * The table on a user's file (`{"question", "answer"}` per line).
 * @example await evaluate({ data: 'my.jsonl' }, out);
 */
export async function evaluate(options: EvalOptions, out: Output): Promise<never> {
  if (!existsSync(options.data)) {
    throw new CliError('INPUT', `data file not found: ${options.data}`, {
      hint: 'pass a JSONL file with one {"question": "…", "answer": "…"} per line (format: bench/tasks/README.md)',
    });
  }
  out.debug('rmas: looking for bench/table2.ts');
  throw new CliError('UNAVAILABLE', 'evaluation (bench/table2.ts) is not in this build yet', {
    hint: PENDING_HINT,
  });
}
