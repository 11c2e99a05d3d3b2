/**
 * The paper's Table 2 on this machine: the single agent, Recursive-TextMAS and RecursiveMAS at
 * r = 1, 2, 3 — accuracy, end-to-end time and output tokens — over the same shipped agents
 * (bench/agents), the same questions, batch size and backend, every method run in turn in one
 * process (interleaved), medians over the repetitions.
 *
 *   npx tsx bench/table2.ts                     # full: the shipped test split, 3 repetitions
 *   npx tsx bench/table2.ts --batch-size 16 --repetitions 3
 *   npx tsx bench/table2.ts --quick             # what `npm start` runs
 *   npx tsx bench/table2.ts --data my.jsonl     # a user's questions (what `rmas eval --data` runs)
 *
 * Output tokens are the tokens decoded as text (hand-offs and answers); latent steps are not
 * tokens, as in the paper. Time is the wall time of the whole question set through the compiled
 * stream (the paper's "end-to-end runtime").
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import { topology } from '../dsl/builder.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import type { Agent } from '../models/types.ts';
import { backendInfo, initBackend } from '../runtime/backend/index.ts';
import { compile } from '../runtime/compile.ts';
import { disposeLinks, type LinkSet, loadLinks } from '../runtime/links.ts';
import type { Answer } from '../runtime/messages.ts';
import { BENCH_MAX_NEW_TOKENS, sequentialBenchIR } from './agents/topologies.ts';
import { agentsOf, LINKS_DIR, loadNetworks } from './agents/trainLinks.ts';
import { renderVegaLiteSvg } from './lib/chart.ts';
import { median, RESULTS_DIR, type TargetInput, writeBenchReport } from './lib/index.ts';
import { type StepCost, stepCost } from './stepCost.ts';
import { buildTaskSplits, isCorrect, readTaskFile, type TaskRecord } from './tasks/index.ts';

export type Table2Method = 'single' | 'text' | 'latent';

/** One method at one recursion depth, over the question set. */
export interface Table2Row {
  method: Table2Method;
  /** Recursion rounds (1 for the single agent). */
  rounds: number;
  /** Fraction of questions answered exactly. */
  accuracy: number;
  /** Accuracy per task family. */
  accuracyByFamily: Record<string, number>;
  /** Median over repetitions of the wall time of the whole set, in ms. */
  timeMs: number;
  timesMs: number[];
  /** Mean tokens decoded as text per question (hand-offs + answer). */
  outputTokens: number;
  /** Mean latent steps per question (not tokens). */
  latentSteps: number;
  /** Questions that came back as errors. */
  errors: number;
  /** Set on the supplementary rows of `latentStepsSweep`: the m every agent used. */
  uniformLatentSteps?: number;
}

export interface Table2Result {
  questions: number;
  families: Record<string, number>;
  batchSize: number;
  repetitions: number;
  rows: Table2Row[];
  /** Full runs: one latent step against one text step of each agent (bench/stepCost.ts). */
  stepCosts?: StepCost[];
}

export interface Table2Progress {
  done: number;
  total: number;
  label: string;
}

export interface RunTable2Options {
  /** A short run: 8 questions per family from the test split, r = 1..3, 3 repetitions. */
  quick?: boolean;
  /** A JSONL task file (bench/tasks/README.md); default the shipped test split, in memory. */
  dataPath?: string;
  /** Tasks given directly (wins over dataPath). */
  tasks?: readonly TaskRecord[];
  /** Default 3. */
  repetitions?: number;
  /** Requests per stage call, for every method. Default 8. */
  batchSize?: number;
  rounds?: readonly number[];
  /** Latent steps m of every agent (default the topology's, BENCH_LATENT_STEPS). */
  latentSteps?: number;
  /**
   * Supplementary RecursiveMAS rows at the deepest r with the same m for every agent (the
   * accuracy / speed trade-off of shorter latent thoughts). Default none.
   */
  latentStepsSweep?: readonly number[];
  /** Folders of the trained networks and links; default the shipped ones. */
  weightsRoot?: string;
  linksDir?: string;
  /** Write bench/results/table2.{json,md,svg} (default: only for the full run on the test split). */
  write?: boolean;
  onProgress?: (progress: Table2Progress) => void;
}

const SINGLE_PROMPT = 'solve {{question}} refined';

/** The single-agent baseline: the solver alone, its plan slot empty (it renders the same prompt). */
export function singleAgentIR(): TopologyIR {
  return topology('bench-single')
    .agent('solver', {
      model: 'tiny-solver-192',
      hiddenSize: 192,
      prompt: SINGLE_PROMPT,
    })
    .rounds({ max: 1 })
    .decode('solver', { maxNewTokens: BENCH_MAX_NEW_TOKENS, temperature: 0, topP: 1 })
    .build().ir;
}

function pickTasks(options: RunTable2Options): TaskRecord[] {
  if (options.tasks !== undefined) return [...options.tasks];
  if (options.dataPath !== undefined) return readTaskFile(options.dataPath);
  const { test } = buildTaskSplits();
  if (!options.quick) return test;
  const byFamily = new Map<string, TaskRecord[]>();
  for (const t of test) byFamily.set(t.family, [...(byFamily.get(t.family) ?? []), t]);
  // Held-out compositions first: the quick run shows generalisation, not memory.
  return [...byFamily.values()].flatMap((records) =>
    [...records].sort((a, b) => Number(b.heldOut) - Number(a.heldOut)).slice(0, 8),
  );
}

async function runOnce(
  ir: TopologyIR,
  mode: 'latent' | 'text',
  agents: Readonly<Record<string, Agent>>,
  links: LinkSet | undefined,
  tasks: readonly TaskRecord[],
  batchSize: number,
): Promise<{ ms: number; answers: Answer[] }> {
  const requests = tasks.map((t, i) => ({ requestId: `${i}`, input: t.question }));
  const start = performance.now();
  const answers = await lastValueFrom(
    from(requests).pipe(
      compile(ir, {
        mode,
        agents,
        ...(links ? { links } : {}),
        batching: { maxBatchSize: batchSize, lingerMs: 0 },
        queue: { capacity: Math.max(requests.length, 1), policy: 'reject' },
      }),
      toArray(),
    ),
  );
  return { ms: performance.now() - start, answers };
}

function score(tasks: readonly TaskRecord[], answers: readonly Answer[]) {
  const byId = new Map(answers.map((a) => [a.requestId, a]));
  let correct = 0;
  let tokens = 0;
  let latentSteps = 0;
  let errors = 0;
  const family = new Map<string, [number, number]>();
  tasks.forEach((t, i) => {
    const a = byId.get(`${i}`);
    const ok = a !== undefined && a.error === undefined && isCorrect(a.text, t.answer);
    if (a === undefined || a.error !== undefined) errors++;
    correct += ok ? 1 : 0;
    const [c, n] = family.get(t.family) ?? [0, 0];
    family.set(t.family, [c + (ok ? 1 : 0), n + 1]);
    for (const u of a?.usage ?? []) {
      tokens += u.generatedTokens;
      latentSteps += u.latentSteps;
    }
  });
  const n = Math.max(tasks.length, 1);
  return {
    accuracy: correct / n,
    accuracyByFamily: Object.fromEntries([...family].map(([f, [c, m]]) => [f, c / m])),
    outputTokens: tokens / n,
    latentSteps: latentSteps / n,
    errors,
  };
}

/**
 * Runs the table and returns it (and, for the full run, writes bench/results/table2.*).
 *
 * @example
 * const result = await runTable2({ quick: true, onProgress: ({ done, total }) => bar.update(done) });
 * console.log(formatTable2(result));
 */
export async function runTable2(options: RunTable2Options = {}): Promise<Table2Result> {
  await initBackend();
  const tasks = pickTasks(options);
  if (tasks.length === 0) throw new Error('runTable2: no questions to run');
  const repetitions = options.repetitions ?? 3;
  const batchSize = options.batchSize ?? 8;
  const roundsList = options.rounds ?? [1, 2, 3];
  const networks = await loadNetworks(options.weightsRoot);
  const linkSets = new Map<number, LinkSet>();
  try {
    const configs: Array<{
      method: Table2Method;
      rounds: number;
      ir: TopologyIR;
      uniformLatentSteps?: number;
    }> = [{ method: 'single', rounds: 1, ir: singleAgentIR() }];
    for (const rounds of roundsList) {
      const ir = sequentialBenchIR({
        rounds,
        ...(options.latentSteps !== undefined ? { latentSteps: options.latentSteps } : {}),
      });
      configs.push({ method: 'text', rounds, ir }, { method: 'latent', rounds, ir });
      linkSets.set(
        rounds,
        await loadLinks(ir, path.join(options.linksDir ?? LINKS_DIR, 'sequential')),
      );
    }
    const deepest = Math.max(...roundsList);
    for (const m of options.latentStepsSweep ?? []) {
      const ir = sequentialBenchIR({ rounds: deepest, latentSteps: m });
      configs.push({ method: 'latent', rounds: deepest, ir, uniformLatentSteps: m });
    }
    const agentsFor = (ir: TopologyIR) => Object.fromEntries(agentsOf(ir, networks));
    const times = configs.map(() => [] as number[]);
    const last: Answer[][] = configs.map(() => []);
    const total = (repetitions + 1) * configs.length;
    let done = 0;
    // One untimed warm-up batch per method, then the repetitions; each pass runs every method in turn.
    for (let rep = -1; rep < repetitions; rep++) {
      for (const [i, c] of configs.entries()) {
        options.onProgress?.({
          done,
          total,
          label: `${rep < 0 ? 'warm-up' : `rep ${rep + 1}`} ${c.method} r=${c.rounds}${c.uniformLatentSteps !== undefined ? ` m=${c.uniformLatentSteps}` : ''}`,
        });
        const mode = c.method === 'latent' ? 'latent' : 'text';
        // The warm-up (JIT, kernel caches) needs one batch, not the whole set.
        const run = await runOnce(
          c.ir,
          mode,
          agentsFor(c.ir),
          mode === 'latent' ? linkSets.get(c.rounds) : undefined,
          rep < 0 ? tasks.slice(0, batchSize) : tasks,
          batchSize,
        );
        if (rep >= 0) {
          times[i]!.push(run.ms);
          last[i] = run.answers;
        }
        done++;
      }
    }
    options.onProgress?.({ done, total, label: 'done' });
    const rows = configs.map((c, i) => ({
      method: c.method,
      rounds: c.rounds,
      ...(c.uniformLatentSteps !== undefined ? { uniformLatentSteps: c.uniformLatentSteps } : {}),
      ...score(tasks, last[i]!),
      timeMs: median(times[i]!),
      timesMs: times[i]!.map((t) => Math.round(t)),
    }));
    const families: Record<string, number> = {};
    for (const t of tasks) families[t.family] = (families[t.family] ?? 0) + 1;
    const result: Table2Result = {
      questions: tasks.length,
      families,
      batchSize,
      repetitions,
      rows,
    };
    const write =
      options.write ??
      (!options.quick && options.dataPath === undefined && options.tasks === undefined);
    if (write) {
      const ir = sequentialBenchIR();
      const links = linkSets.get(Math.max(...roundsList))!;
      const agents = agentsFor(ir);
      result.stepCosts = [];
      for (const a of ir.agents) {
        options.onProgress?.({ done, total, label: `step cost ${a.name}` });
        result.stepCosts.push(
          await stepCost(a.name, agents[a.name]!, links.get(`inner:${a.name}`)!, batchSize),
        );
      }
      await writeTable2(result);
    }
    return result;
  } finally {
    for (const links of linkSets.values()) disposeLinks(links);
    for (const agent of networks.values()) agent.model.dispose();
  }
}

const METHOD_NAMES: Record<Table2Method, string> = {
  single: 'Single agent (solver)',
  text: 'Recursive-TextMAS',
  latent: 'RecursiveMAS',
};

function row(result: Table2Result, method: Table2Method, rounds: number): Table2Row | undefined {
  return result.rows.find(
    (r) => r.method === method && r.rounds === rounds && r.uniformLatentSteps === undefined,
  );
}

/** The issue's targets, from the r = 3 rows (or the deepest r run). */
export function table2Targets(result: Table2Result): TargetInput[] {
  const deepest = Math.max(...result.rows.map((r) => r.rounds));
  const text = row(result, 'text', deepest);
  const latent = row(result, 'latent', deepest);
  const single = row(result, 'single', 1);
  if (!text || !latent || !single) return [];
  const points = (x: number) => Number((100 * x).toFixed(2));
  return [
    {
      name: `speedup of RecursiveMAS over Recursive-TextMAS at r=${deepest} (time ratio)`,
      value: text.timeMs / latent.timeMs,
      op: '>=',
      target: 2.4,
    },
    {
      name: `RecursiveMAS output tokens / Recursive-TextMAS output tokens at r=${deepest}`,
      value: latent.outputTokens / text.outputTokens,
      op: '<=',
      target: 0.244,
    },
    {
      name: `RecursiveMAS accuracy minus Recursive-TextMAS accuracy at r=${deepest} (points)`,
      value: points(latent.accuracy - text.accuracy),
      op: '>=',
      target: 0,
    },
    {
      name: `RecursiveMAS accuracy minus single agent accuracy at r=${deepest} (points)`,
      value: points(latent.accuracy - single.accuracy),
      op: '>=',
      target: 1,
    },
    {
      name: `Recursive-TextMAS accuracy minus single agent accuracy at r=${deepest} (points)`,
      value: points(text.accuracy - single.accuracy),
      op: '>=',
      target: 1,
    },
  ];
}

/** The table as markdown rows (accuracy %, time s, output tokens, and the ratios to TextMAS). */
export function table2Rows(result: Table2Result): {
  headers: string[];
  rows: (string | number)[][];
} {
  const headers = [
    'r',
    'method',
    'accuracy %',
    ...Object.keys(result.families).map((f) => `${f} %`),
    'time s (median)',
    'ms / question',
    'output tokens / question',
    'latent steps / question',
    'speedup vs TextMAS',
    'tokens vs TextMAS',
  ];
  const rows = result.rows.map((r) => {
    const text = row(result, 'text', r.rounds);
    const vsText = r.method === 'latent' && text !== undefined;
    return [
      r.method === 'single' ? '-' : r.rounds,
      r.uniformLatentSteps === undefined
        ? METHOD_NAMES[r.method]
        : `${METHOD_NAMES[r.method]}, m = ${r.uniformLatentSteps} for every agent`,
      Number((100 * r.accuracy).toFixed(1)),
      ...Object.keys(result.families).map((f) =>
        Number((100 * (r.accuracyByFamily[f] ?? 0)).toFixed(1)),
      ),
      Number((r.timeMs / 1000).toFixed(2)),
      Number((r.timeMs / result.questions).toFixed(1)),
      Number(r.outputTokens.toFixed(1)),
      Number(r.latentSteps.toFixed(1)),
      vsText ? `${(text.timeMs / r.timeMs).toFixed(2)}x` : '',
      vsText ? `${((100 * r.outputTokens) / text.outputTokens).toFixed(1)}%` : '',
    ];
  });
  return { headers, rows };
}

/** The table as printable markdown. */
export function formatTable2(result: Table2Result): string {
  const { headers, rows } = table2Rows(result);
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    `${result.questions} questions (${Object.entries(result.families)
      .map(([f, n]) => `${f} ${n}`)
      .join(', ')}), batch ${result.batchSize}, median of ${result.repetitions}`,
    '',
    line(headers),
    `|${headers.map(() => ' --- ').join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** Writes bench/results/table2.{json,md,svg}. */
export async function writeTable2(
  result: Table2Result,
  outDir: string = RESULTS_DIR,
): Promise<void> {
  const table = table2Rows(result);
  writeBenchReport({
    benchmark: 'table2',
    command: `npx tsx bench/table2.ts --batch-size ${result.batchSize} --repetitions ${result.repetitions}`,
    backend: backendInfo(),
    results: result,
    targets: table2Targets(result),
    table,
    notes: [
      'Sequential pattern (planner -> critic -> solver, solver -> planner feedback) over the shipped tiny agents ' +
        '(bench/agents), on the shipped test split (bench/tasks: arith, code, search; held-out compositions included). ' +
        'Every method runs the whole question set through the compiled stream (runtime compile) with the same batch size ' +
        'and backend; methods run in turn within each repetition; time is the median over repetitions, after one untimed warm-up batch per method.',
      'Output tokens: tokens decoded as text per question (every hand-off in Recursive-TextMAS, the final answer in ' +
        'RecursiveMAS); latent steps are not tokens (paper §5.4). Greedy decoding everywhere.',
      ...stepCostNotes(result),
    ],
    outDir,
  });
  writeFileSync(path.join(outDir, 'table2.svg'), await table2Svg(result));
}

function stepCostNotes(result: Table2Result): string[] {
  if (result.stepCosts === undefined) return [];
  const costs = result.stepCosts
    .map(
      (c) =>
        `${c.agent} (d = ${c.hiddenSize}) ${c.latentStepMs.toFixed(2)} vs ${c.textStepMs.toFixed(2)} ms (${c.ratio.toFixed(2)}x)`,
    )
    .join(', ');
  return [
    `One latent step against one text step, batch ${result.batchSize} (bench/stepCost.ts, medians of interleaved runs): ${costs}. ` +
      'With |V| = 2048 and d <= 192 the vocabulary projection a latent step skips costs about as much as the inner link it adds, ' +
      'so the speed-up can only come from taking fewer steps than Recursive-TextMAS writes tokens.',
  ];
}

/** Three bar panels (accuracy, time, output tokens), grouped by r. */
export function table2Svg(result: Table2Result): Promise<string> {
  const values = result.rows.map((r) => ({
    group:
      r.method === 'single'
        ? 'single'
        : r.uniformLatentSteps === undefined
          ? `r=${r.rounds}`
          : `r=${r.rounds}, m=${r.uniformLatentSteps}`,
    method: METHOD_NAMES[r.method],
    'accuracy %': Number((100 * r.accuracy).toFixed(1)),
    'time s': Number((r.timeMs / 1000).toFixed(2)),
    'output tokens / question': Number(r.outputTokens.toFixed(1)),
  }));
  const panel = (field: string) => ({
    width: 220,
    height: 200,
    title: field,
    mark: 'bar' as const,
    encoding: {
      x: { field: 'group', type: 'nominal' as const, title: null, sort: null },
      xOffset: { field: 'method', type: 'nominal' as const, sort: null },
      y: { field, type: 'quantitative' as const, title: null },
      color: { field: 'method', type: 'nominal' as const, title: null, sort: null },
    },
  });
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Table 2 on this machine (${result.questions} questions, batch ${result.batchSize})`,
    data: { values },
    hconcat: [panel('accuracy %'), panel('time s'), panel('output tokens / question')],
  });
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const dataPath = argument('data');
  const batchSize = argument('batch-size');
  const repetitions = argument('repetitions');
  runTable2({
    quick,
    ...(dataPath ? { dataPath } : {}),
    ...(batchSize ? { batchSize: Number(batchSize) } : {}),
    ...(repetitions ? { repetitions: Number(repetitions) } : {}),
    ...(quick || dataPath ? {} : { latentStepsSweep: [4, 8, 12] }),
    onProgress: ({ done, total, label }) => process.stderr.write(`[${done}/${total}] ${label}\n`),
  })
    .then((result) => console.log(formatTable2(result)))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
