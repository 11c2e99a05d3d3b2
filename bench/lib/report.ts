import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where every benchmark writes `<benchmark>.json` and `<benchmark>.md`. */
export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');

/** A goal a benchmark checks: `value op target`, e.g. speedup `>=` 2 or ratio `<=` 1.5. */
export interface TargetInput {
  name: string;
  value: number;
  op: '>=' | '<=';
  target: number;
}

/** A target with its verdict. A target not met stays in the report with `met: false`. */
export interface Target extends TargetInput {
  met: boolean;
}

/** A markdown table: one header row, then rows of cells (numbers printed with {@link formatNumber}). */
export interface Table {
  headers: string[];
  rows: ReadonlyArray<ReadonlyArray<string | number>>;
}

export interface BenchReportInput {
  /** File stem under bench/results/, e.g. `backends`. */
  benchmark: string;
  /** How to rerun it, e.g. `npm run bench backends`. */
  command: string;
  /** The tensor backend it ran on: a `BackendInfo` from runtime/backend, or a name. */
  backend: unknown;
  /** Free-form measurements (medians, ratios, shapes, ...), stored as given. */
  results: unknown;
  targets: TargetInput[];
  /** The results as a markdown table; without it the .md shows `results` as JSON. */
  table?: Table;
  /** Sentences printed under the title of the .md (what was measured, caveats). */
  notes?: string[];
  /** Output folder; default {@link RESULTS_DIR}. */
  outDir?: string;
}

/** What lands in `<benchmark>.json`. */
export interface BenchReport {
  benchmark: string;
  command: string;
  backend: unknown;
  date: string;
  results: unknown;
  targets: Target[];
}

/**
 * Writes `bench/results/<benchmark>.json` and `.md` (results table + targets with their verdicts)
 * and prints the markdown. `met` is computed here from `op`, never by the benchmark.
 *
 * @example
 * writeBenchReport({
 *   benchmark: 'backends',
 *   command: 'npm run bench backends',
 *   backend: await initBackend(),
 *   results: { plainMs: 8.1, transposedMs: 9.0 },
 *   targets: [{ name: 'transposed / plain', value: 9.0 / 8.1, op: '<=', target: 1.5 }],
 *   table: { headers: ['case', 'median ms'], rows: [['plain', 8.1], ['transposed', 9.0]] },
 * });
 */
export function writeBenchReport(input: BenchReportInput): BenchReport {
  if (!/^[\w.-]+$/.test(input.benchmark)) {
    throw new Error(
      `writeBenchReport: benchmark name '${input.benchmark}' must be a plain file stem`,
    );
  }
  const report: BenchReport = {
    benchmark: input.benchmark,
    command: input.command,
    backend: input.backend,
    date: new Date().toISOString(),
    results: input.results,
    targets: input.targets.map((t) => ({ ...t, met: isMet(t) })),
  };
  const outDir = input.outDir ?? RESULTS_DIR;
  mkdirSync(outDir, { recursive: true });
  const markdown = renderMarkdown(report, input.table, input.notes ?? []);
  writeFileSync(
    path.join(outDir, `${input.benchmark}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  writeFileSync(path.join(outDir, `${input.benchmark}.md`), markdown);
  process.stdout.write(
    `${markdown}\nwrote ${path.relative(process.cwd(), outDir)}/${input.benchmark}.{json,md}\n`,
  );
  return report;
}

/**
 * Whether `value op target` holds (NaN never meets a target).
 *
 * @example
 * isMet({ name: 'ratio', value: 1.2, op: '<=', target: 1.5 }); // true
 */
export function isMet({ value, op, target }: TargetInput): boolean {
  return op === '>=' ? value >= target : value <= target;
}

/**
 * Numbers for tables: 3 significant digits, no exponent for ordinary magnitudes.
 *
 * @example
 * formatNumber(12.3456); // '12.3'
 * formatNumber(0.012345); // '0.0123'
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000 || magnitude < 1e-4) return value.toPrecision(3);
  return String(Number(value.toPrecision(3)));
}

function renderMarkdown(report: BenchReport, table: Table | undefined, notes: string[]): string {
  const lines = [`# Benchmark: ${report.benchmark}`, ''];
  lines.push(`- command: \`${report.command}\``);
  lines.push(`- backend: ${describeBackend(report.backend)}`);
  lines.push(`- date: ${report.date}`, '');
  for (const note of notes) lines.push(note, '');
  lines.push('## Results', '');
  if (table) lines.push(...renderTable(table));
  else lines.push('```json', JSON.stringify(report.results, null, 2), '```');
  lines.push('', '## Targets', '');
  lines.push(
    ...renderTable({
      headers: ['target', 'value', 'goal', 'met'],
      rows: report.targets.map((t) => [
        t.name,
        t.value,
        `${t.op} ${t.target}`,
        t.met ? 'yes' : 'NO',
      ]),
    }),
  );
  return `${lines.join('\n')}\n`;
}

function renderTable({ headers, rows }: Table): string[] {
  const cell = (value: string | number) =>
    (typeof value === 'number' ? formatNumber(value) : value).replaceAll('|', '\\|');
  return [
    `| ${headers.map(cell).join(' | ')} |`,
    `|${headers.map(() => ' --- ').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}

function describeBackend(backend: unknown): string {
  if (typeof backend === 'string') return backend;
  const info = backend as {
    name?: string;
    version?: string;
    simd?: boolean;
    threads?: number;
  } | null;
  if (info?.name == null) return JSON.stringify(backend);
  const details = [
    info.version,
    info.simd === undefined ? undefined : info.simd ? 'simd' : 'no simd',
    info.threads === undefined ? undefined : `${info.threads} thread(s)`,
  ].filter((part) => part !== undefined);
  return `${info.name} (${details.join(', ')})`;
}
