/**
 * `rmas bench [names...]`: runs benchmarks through the same runner as `npm run bench` (each
 * bench/<name>.ts in its own Node process), then summarises their targets from
 * bench/results/<name>.json and, with `--plot`, draws them as an SVG bar chart (measured value
 * over target, 1 = the target exactly).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCH_DIR = join(ROOT, 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');

/** The benchmarks bench/run.ts knows: every bench/<name>.ts but the runner. */
export function benchmarkNames(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

interface TargetResult {
  name: string;
  value: number;
  op: '>=' | '<=';
  target: number;
  met: boolean;
}

interface ResultFile {
  benchmark: string;
  command?: string;
  backend?: string;
  date?: string;
  targets?: TargetResult[];
}

/** A benchmark's committed or fresh result file, if any. */
export function readResult(name: string): ResultFile | undefined {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ResultFile;
}

export interface BenchOptions {
  list?: boolean;
  plot?: string;
  /** Skip running; only summarise (and plot) the result files already there. */
  resultsOnly?: boolean;
}

/**
 * @example await bench(['latent'], { plot: 'latent.svg' }, out);
 */
export async function bench(names: string[], options: BenchOptions, out: Output): Promise<void> {
  const available = benchmarkNames();
  if (options.list) {
    const rows = available.map((name) => {
      const result = readResult(name);
      return { name, lastRun: result?.date ?? null, command: result?.command ?? null };
    });
    if (out.json) out.emit({ benchmarks: rows });
    else {
      for (const r of rows)
        out.print(`${r.name.padEnd(12)} ${r.lastRun ? `last run ${r.lastRun}` : 'no results yet'}`);
    }
    return;
  }
  const unknown = names.filter((name) => !available.includes(name.replace(/\.ts$/, '')));
  if (unknown.length > 0) {
    throw new CliError('USAGE', `unknown benchmark(s): ${unknown.join(', ')}`, {
      hint: `available: ${available.join(', ')} (rmas bench --list)`,
    });
  }
  const selected = names.length > 0 ? names.map((n) => n.replace(/\.ts$/, '')) : available;
  if (!options.resultsOnly) {
    const status = await runRunner(selected, out);
    if (status !== 0) {
      throw new CliError('FAILED', `benchmark run failed (bench/run.ts exited with ${status})`, {
        hint: 'the failing benchmark is named above; rerun it alone with `rmas bench <name> --verbose`',
      });
    }
  }
  const summaries = selected.map((name) => ({ name, result: readResult(name) }));
  if (options.plot !== undefined) {
    const file = resolve(options.plot);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, await targetsChartSvg(summaries));
    out.note(`rmas: targets chart written to ${file}`);
  }
  if (out.json) {
    out.emit({
      benchmarks: summaries.map(({ name, result }) => ({
        name,
        results: result === undefined ? null : join(RESULTS_DIR, `${name}.json`),
        targets: result?.targets ?? [],
      })),
    });
    return;
  }
  for (const { name, result } of summaries) {
    if (result === undefined) {
      out.print(`${name}: no results file (bench/results/${name}.json)`);
      continue;
    }
    const targets = result.targets ?? [];
    const met = targets.filter((t) => t.met).length;
    out.print(
      `${name}: ${met}/${targets.length} targets met · ${result.date ?? ''} · bench/results/${name}.md`,
    );
    for (const t of targets) {
      out.print(
        `  ${t.met ? '✓' : '✗'} ${t.name}: ${formatValue(t.value)} (target ${t.op} ${formatValue(t.target)})`,
      );
    }
  }
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** bench/run.ts in a child process; its stdout goes to our stderr under `--json`. */
function runRunner(names: string[], out: Output): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(BENCH_DIR, 'run.ts'), ...names],
      {
        cwd: ROOT,
        stdio: ['ignore', out.json ? process.stderr : 'inherit', 'inherit'],
      },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

/** Ratios beyond 10 (or a division by zero) are drawn at 10; NaN at 0. */
function clampRatio(ratio: number): number {
  return Number.isNaN(ratio) ? 0 : Math.min(ratio, 10);
}

/**
 * Each target as value / target (for `<=` targets, target / value), so that every bar above 1
 * meets its target.
 */
async function targetsChartSvg(
  summaries: { name: string; result: ResultFile | undefined }[],
): Promise<string> {
  const { barChartSvg } = await import('../../train/plots.ts');
  const bars = summaries.flatMap(({ name, result }) =>
    (result?.targets ?? []).map((t) => ({
      group: name,
      label: t.name,
      value: clampRatio(t.op === '>=' ? t.value / t.target : t.target / t.value),
    })),
  );
  if (bars.length === 0) {
    throw new CliError(
      'FAILED',
      'no targets to plot: the selected benchmarks wrote no results with targets',
    );
  }
  return barChartSvg(bars, { title: 'benchmark targets (≥ 1: met)', yTitle: 'measured / target' });
}
