/**
 * `rmas train <config> --data <file.jsonl>`: trains a topology's RecursiveLinks with the project's
 * trainer (AdamW, cosine schedule with warmup, clipping; the official settings by default) and
 * saves every link of the topology to `--out`, the folder `rmas run --links` reads. Writes the
 * loss curves as an SVG.
 *
 * The inner loop (paper §4, warm start) trains each agent's inner link on its role texts, one JSON
 * object per line: `{"agent": "planner", "prompt": "…", "target": "…"}` (the format of
 * bench/tasks/data/knowledge.jsonl). Agents without lines keep their fresh inner link.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { innerLinkId } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import { loadConfig } from '../config.ts';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';

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

/**
 * @example await train('cli/examples/sequential.yaml', { data: 'roles.jsonl', loop: 'inner', steps: 50, batchSize: 4, seed: 1, out: 'links' }, out);
 */
export async function train(configFile: string, options: TrainOptions, out: Output): Promise<void> {
  if (options.loop === 'outer') {
    throw new CliError('UNAVAILABLE', 'the outer loop is not available from the command line yet', {
      hint: 'train the inner links now with --loop inner; the outer loop (train/outer.ts) is in progress',
    });
  }
  const config = await loadConfig(configFile);
  const ir = config.resolvedIR;
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

  const runtime = await import('../../runtime/index.ts');
  const trainLib = await import('../../train/index.ts');
  await runtime.initBackend({ log: out.verbose ? (line) => out.debug(line) : false });
  const registry = runtime.agentRegistry({ seed: options.seed });
  const started = performance.now();
  try {
    const agents = await runtime.resolveAgents(ir, registry);
    const links = runtime.createLinks(ir, { seed: options.seed, agents });
    try {
      const curves: Record<string, number[]> = {};
      const results: { agent: string; examples: number; firstLoss: number; lastLoss: number }[] =
        [];
      for (const [name, texts] of byAgent) {
        const link = links.get(innerLinkId(name))!;
        const trainer = trainLib.innerLoopTrainer(agents.get(name)!, link, texts, {
          config: {
            steps: options.steps,
            batchSize: Math.min(options.batchSize, texts.length),
            seed: options.seed,
            ...(options.lr !== undefined ? { lr: options.lr } : {}),
          },
          progress: out.json ? false : { label: `inner ${name}` },
        });
        trainer.run();
        curves[`inner:${name}`] = [...trainer.history];
        results.push({
          agent: name,
          examples: texts.length,
          firstLoss: trainer.history[0] ?? Number.NaN,
          lastLoss: trainer.history.at(-1) ?? Number.NaN,
        });
        out.debug(`rmas: inner:${name} trained on ${texts.length} role texts`);
      }
      const outDir = resolve(options.out);
      await runtime.saveLinks(links, outDir);
      const plot = resolve(options.plot ?? join(outDir, 'loss.svg'));
      await trainLib.saveLossCurveSvg(plot, curves, {
        title: `${ir.name}: inner loop`,
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
          `inner:${r.agent.padEnd(12)} ${r.examples} role texts · loss ${r.firstLoss.toFixed(4)} → ${r.lastLoss.toFixed(4)} in ${options.steps} steps`,
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
