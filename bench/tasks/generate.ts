/**
 * Writes the shipped task files: bench/tasks/data/{train,validation,test,knowledge}.jsonl.
 *
 *   npx tsx bench/tasks/generate.ts            # the shipped seed
 *   npx tsx bench/tasks/generate.ts --seed 7   # another world (the shipped weights won't know it)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJsonl } from './format.ts';
import { buildTaskSplits } from './splits.ts';
import { WORLD_SEED } from './world.ts';

export const TASK_DATA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data');

function main(): void {
  const at = process.argv.indexOf('--seed');
  const seed = at > 0 ? Number(process.argv[at + 1]) : WORLD_SEED;
  const splits = buildTaskSplits({ seed });
  mkdirSync(TASK_DATA_DIR, { recursive: true });
  for (const name of ['train', 'validation', 'test', 'knowledge'] as const) {
    const file = path.join(TASK_DATA_DIR, `${name}.jsonl`);
    writeFileSync(file, toJsonl(splits[name]));
    console.log(
      `${path.relative(process.cwd(), file)}: ${splits[name].length} records (seed ${seed})`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
