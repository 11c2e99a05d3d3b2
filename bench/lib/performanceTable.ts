/**
 * The README's performance table, from the committed results: one row per target of every
 * bench/results/<name>.json, in file order. `npx tsx bench/lib/performanceTable.ts` prints it;
 * a test keeps the README's copy equal to it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNumber, RESULTS_DIR, type Target } from './report.ts';

const format = (x: number) =>
  x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2).replace(/\.?0+e/, 'e') : formatNumber(x);

/** Markdown rows (with the header) for every target in `dir`'s results. */
export function performanceTable(dir = RESULTS_DIR): string {
  const lines = [
    '| benchmark | target | measured | goal | met |',
    '| --- | --- | --- | --- | --- |',
  ];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const file of files) {
    const report = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      benchmark: string;
      targets: Target[];
    };
    for (const t of report.targets) {
      const name = t.name.replaceAll('|', '\\|');
      const met = t.met ? 'yes' : '**no**';
      lines.push(
        `| \`${report.benchmark}\` | ${name} | ${format(t.value)} | ${t.op} ${format(t.target)} | ${met} |`,
      );
    }
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(performanceTable());
