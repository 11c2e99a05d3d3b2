/**
 * `rmas train <config> --data <file.jsonl>`: trains a topology's RecursiveLinks with the project's
 * trainer (AdamW, cosine schedule with warmup, clipping; the official settings by default) and
 * saves every link of the topology to `--out`, the folder `rmas run --links` reads. Writes the
 * loss curves as an SVG.
 *
 * - `--loop inner` (paper §4, warm start) trains each agent's inner link on its role texts, one
 *   JSON object per line: `{"agent": "planner", "prompt": "…", "target": "…"}` (the format of
 *   bench/tasks/data/knowledge.jsonl). Agents without lines keep their inner link as it was.
 * - `--loop outer` trains the outer links through the unrolled rounds on question-answer pairs,
 *   `{"question": "…", "answer": "…"}` per line (the format of bench/tasks/data/train.jsonl),
 *   usually starting `--from` the inner loop's links.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { innerLinkId } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { loadConfig } from '../config.ts';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';
import { readQuestions } from '../questions.ts';
import { withOverrides } from './run.ts';

export const TRAIN_LOOPS = ['inner', 'outer'] as const;
export type TrainLoop = (typeof TRAIN_LOOPS)[number];

export interface TrainOptions {
  data: string;
  loop: TrainLoop;
  steps: number;
  batchSize: number;
  lr?: number;
  seed: number;
  out: string;
  /** Override the topology's rounds (the outer loop unrolls this many). */
  rounds?: number;
  /** Start from these links (e.g. the inner loop's `--out`); default fresh links. */
  from?: string;
  /** Loss curves SVG; default `<out>/loss.svg`. */
  plot?: string;
}

export interface RoleTextLine {
  agent: string;
  prompt: string;
  target: string;
}

/**
 * Reads role texts (`{"agent", "prompt", "target"}` per line).
 * @example const texts = await readRoleTexts('bench/tasks/data/knowledge.jsonl');
 */
export async function readRoleTexts(file: string): Promise<RoleTextLine[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      'INPUT',
      `cannot read the training data ${file}: ${(error as Error).message}`,
      {
        hint: 'pass --data with a JSONL file of {"agent", "prompt", "target"} lines',
      },
    );
  }
  const lines: RoleTextLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    const where = `${file}:${index + 1}`;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(raw) as Record<string, unknown>;
    } catch (error) {
      throw new CliError('INPUT', `${where}: not valid JSON: ${(error as Error).message}`, {
        hint: 'each line is one JSON object: {"agent": "planner", "prompt": "…", "target": "…"}',
      });
    }
    for (const field of ['agent', 'prompt', 'target'] as const) {
      if (typeof value[field] !== 'string' || value[field] === '') {
        throw new CliError('INPUT', `${where}: "${field}" must be a non-empty string`, {
          hint: 'each line is one JSON object: {"agent": "planner", "prompt": "…", "target": "…"}',
        });
      }
    }
    lines.push({
      agent: value['agent'] as string,
      prompt: value['prompt'] as string,
      target: value['target'] as string,
    });
  });
  if (lines.length === 0) {
    throw new CliError('INPUT', `${file}: no training examples (the file is empty)`);
  }
  return lines;
}

/** Which agents of the topology have role texts, and which names in the data match no agent. */
export function roleTextsByAgent(
  ir: TopologyIR,
  lines: readonly RoleTextLine[],
): { byAgent: Map<string, RoleTextLine[]>; unknown: string[] } {
  const names = new Set(ir.agents.map((a) => a.name));
  const byAgent = new Map<string, RoleTextLine[]>();
  const unknown = new Set<string>();
  for (const line of lines) {
    if (!names.has(line.agent)) {
      unknown.add(line.agent);
      continue;
    }
    const list = byAgent.get(line.agent) ?? [];
    list.push(line);
    byAgent.set(line.agent, list);
  }
  return { byAgent, unknown: [...unknown] };
}

/** Question-answer pairs for the outer loop (`{"question", "answer"}` per line). */
async function readAnswered(file: string): Promise<{ question: string; answer: string }[]> {
  const questions = await readQuestions({ input: file });
  return questions.map((q, i) => {
    if (q.answer === undefined) {
      throw new CliError(
        'INPUT',
        `${file}: question ${i + 1} (${JSON.stringify(q.id)}) has no "answer"`,
        {
          hint: 'the outer loop trains on {"question": "…", "answer": "…"} lines (e.g. bench/tasks/data/train.jsonl)',
        },
      );
    }
    return { question: q.text, answer: q.answer };
  });
}

interface LinkResult {
  link: string;
  examples: number;
  firstLoss: number;
  lastLoss: number;
}

/**
 * @example await train('cli/examples/sequential.yaml', { data: 'roles.jsonl', loop: 'inner', steps: 50, batchSize: 4, seed: 1, out: 'links' }, out);
 */
export async function train(configFile: string, options: TrainOptions, out: Output): Promise<void> {
  const config = await loadConfig(configFile);
  const ir = withOverrides(config.resolvedIR, {
    ...(options.rounds !== undefined ? { rounds: options.rounds } : {}),
  });
  const inner = options.loop === 'inner' ? await innerData(ir, options, out) : undefined;
  const answered = options.loop === 'outer' ? await readAnswered(options.data) : undefined;

  const runtime = await import('../../runtime/index.ts');
  const trainLib = await import('../../train/index.ts');
  await runtime.initBackend({ log: out.verbose ? (line) => out.debug(line) : false });
  const registry = runtime.agentRegistry({ seed: options.seed });
  const started = performance.now();
  const trainConfig = (examples: number) => ({
    steps: options.steps,
    batchSize: Math.min(options.batchSize, examples),
    seed: options.seed,
    ...(options.lr !== undefined ? { lr: options.lr } : {}),
  });
  try {
    const agents = await runtime.resolveAgents(ir, registry);
    const links =
      options.from !== undefined
        ? await runtime.loadLinks(ir, resolve(options.from))
        : runtime.createLinks(ir, { seed: options.seed, agents });
    try {
      const curves: Record<string, number[]> = {};
      const results: LinkResult[] = [];
      const record = (link: string, examples: number, history: readonly number[]) => {
        curves[link] = [...history];
        results.push({
          link,
          examples,
          firstLoss: history[0] ?? Number.NaN,
          lastLoss: history.at(-1) ?? Number.NaN,
        });
      };
      if (inner !== undefined) {
        for (const [name, texts] of inner) {
          const trainer = trainLib.innerLoopTrainer(
            agents.get(name)!,
            links.get(innerLinkId(name))!,
            texts,
            {
              config: trainConfig(texts.length),
              progress: out.json ? false : { label: `inner ${name}` },
            },
          );
          trainer.run();
          record(innerLinkId(name), texts.length, trainer.history);
        }
      }
      if (answered !== undefined) {
        const trainer = trainLib.outerLoopTrainer({
          ir,
          agents,
          links,
          examples: answered,
          config: trainConfig(answered.length),
          progress: out.json ? false : { label: 'outer links' },
        });
        trainer.run();
        record('outer links', answered.length, trainer.history);
      }
      const outDir = resolve(options.out);
      await runtime.saveLinks(links, outDir);
      const plot = resolve(options.plot ?? join(outDir, 'loss.svg'));
      await trainLib.saveLossCurveSvg(plot, curves, {
        title: `${ir.name}: ${options.loop} loop`,
        logY: true,
      });
      const wallMs = performance.now() - started;
      if (out.json) {
        out.emit({
          topology: ir.name,
          loop: options.loop,
          steps: options.steps,
          links: outDir,
          plot,
          results,
          wallMs,
        });
        return;
      }
      for (const r of results) {
        out.print(
          `${r.link.padEnd(16)} ${r.examples} examples · loss ${r.firstLoss.toFixed(4)} → ${r.lastLoss.toFixed(4)} in ${options.steps} steps`,
        );
      }
      out.print(`links saved to ${outDir} (use: rmas run ${configFile} --links ${options.out})`);
      out.print(`loss curves: ${plot}`);
      out.print(`${(wallMs / 1000).toFixed(1)} s`);
    } finally {
      runtime.disposeLinks(links);
    }
  } finally {
    registry.dispose();
  }
}

/** The role texts of each agent that has some; notes the names that match no agent. */
async function innerData(
  ir: TopologyIR,
  options: TrainOptions,
  out: Output,
): Promise<Map<string, RoleTextLine[]>> {
  const lines = await readRoleTexts(options.data);
  const { byAgent, unknown } = roleTextsByAgent(ir, lines);
  if (byAgent.size === 0) {
    throw new CliError(
      'INPUT',
      `${options.data}: no line names an agent of "${ir.name}" (the data names: ${unknown.join(', ')})`,
      { hint: `set "agent" to one of: ${ir.agents.map((a) => a.name).join(', ')}` },
    );
  }
  if (unknown.length > 0) {
    out.note(`rmas: skipping lines for agents not in "${ir.name}": ${unknown.join(', ')}`);
  }
  return byAgent;
}
