/**
 * `rmas run [config]`: a topology over questions, in latent mode (RecursiveMAS) or text mode
 * (Recursive-TextMAS), printing each answer and what it cost (tokens, latent steps, time).
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { validate } from '../../dsl/index.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import type { Answer, CompileOptions, Request } from '../../runtime/index.ts';
import { type LoadedConfig, loadConfig, type RunSettings } from '../config.ts';
import { CliError, EXIT_CODES, type ExitCode } from '../errors.ts';
import type { Output } from '../output.ts';
import { type Question, readQuestions } from '../questions.ts';

/** The fallback of `run` without a config: the sequential pattern on the built-in agents, fresh links. */
export const DEFAULT_CONFIG = fileURLToPath(
  new URL('../examples/sequential.yaml', import.meta.url),
);

/**
 * The topology `run` uses when no config is given: the shipped system (the benchmark's sequential
 * topology on the trained agents and links of bench/agents) when this checkout has its links,
 * else cli/examples/sequential.yaml, said on stderr.
 * @example const config = await defaultConfig(out);
 */
export async function defaultConfig(out: Output): Promise<LoadedConfig> {
  const { LINKS_DIR } = await import('../../bench/agents/trainLinks.ts');
  const links = join(LINKS_DIR, 'sequential');
  if (existsSync(links)) {
    const { sequentialBenchIR } = await import('../../bench/agents/topologies.ts');
    const ir = sequentialBenchIR();
    return { file: 'bench/agents/topologies.ts', ir, resolvedIR: ir, run: { links } };
  }
  out.note(
    `rmas: no trained links in this checkout (${relative(process.cwd(), links)}): running ` +
      `${relative(process.cwd(), DEFAULT_CONFIG)} on untrained agents with fresh links`,
  );
  return loadConfig(DEFAULT_CONFIG);
}

export interface RunOptions {
  question?: string[];
  input?: string;
  mode?: 'latent' | 'text';
  links?: string;
  seed?: number;
  batchSize?: number;
  rounds?: number;
  maxNewTokens?: number;
  /** Print the usage of every agent in every round. */
  usage?: boolean;
}

/** The topology after the command line's overrides, checked again. */
export function withOverrides(
  ir: TopologyIR,
  overrides: { rounds?: number; maxNewTokens?: number },
): TopologyIR {
  const next: TopologyIR = {
    ...ir,
    rounds: { ...ir.rounds, ...(overrides.rounds !== undefined ? { max: overrides.rounds } : {}) },
    decode: {
      ...ir.decode,
      ...(overrides.maxNewTokens !== undefined ? { maxNewTokens: overrides.maxNewTokens } : {}),
    },
  };
  const issues = validate(next);
  if (issues.length > 0) {
    const flag = issues[0]!.path[0] === 'rounds' ? '--rounds' : '--max-new-tokens';
    throw new CliError('USAGE', `${flag}: ${issues[0]!.message}`, {
      hint: 'rounds must be an integer >= 1 and max-new-tokens an integer >= 1',
    });
  }
  return next;
}

/** Settings from flags first, then the config file's `run` section. */
export function runSettings(
  config: LoadedConfig,
  options: RunOptions,
): Required<Pick<RunSettings, 'mode'>> & RunSettings {
  return {
    mode: options.mode ?? config.run.mode ?? 'latent',
    ...pick('links', options.links ?? config.run.links),
    ...pick('seed', options.seed ?? config.run.seed),
    ...pick('maxBatchSize', options.batchSize ?? config.run.maxBatchSize),
  };
}

function pick<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * Compiles the topology and answers every question; returns the answers in question order.
 * @example const answers = await answerQuestions(ir, questions, { mode: 'latent' }, out);
 */
export async function answerQuestions(
  ir: TopologyIR,
  questions: readonly Question[],
  settings: RunSettings & { mode: 'latent' | 'text' },
  out: Output,
): Promise<Answer[]> {
  const { compile, initBackend } = await import('../../runtime/index.ts');
  await initBackend({ log: out.verbose ? (line) => out.debug(line) : false });
  const options: CompileOptions = {
    mode: settings.mode,
    links: settings.links !== undefined ? { dir: settings.links } : { seed: settings.seed ?? 0 },
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
    batching: { maxBatchSize: settings.maxBatchSize ?? 8, lingerMs: 0 },
    // Every question is admitted at once: the file is already in memory.
    queue: { capacity: Math.max(1, questions.length), policy: 'reject' },
  };
  const requests: Request[] = questions.map((q) => ({ requestId: q.id, input: q.text }));
  const bar = out.progress(questions.length, `${settings.mode} run`);
  let done = 0;
  try {
    const answers = await lastValueFrom(
      from(requests).pipe(
        compile(ir, options),
        tap((answer) => bar.update(++done, `${answer.requestId} · ${answer.rounds} round(s)`)),
        toArray(),
      ),
    );
    const order = new Map(questions.map((q, i) => [q.id, i]));
    return answers.sort((a, b) => order.get(a.requestId)! - order.get(b.requestId)!);
  } finally {
    bar.stop();
  }
}

/**
 * Fails early, naming the field, when a local model folder does not exist.
 * @example checkModelFolders(config, ir) // CliError: sequential.yaml: agents[2].model.path: no folder at …
 */
export function checkModelFolders(config: LoadedConfig, ir: TopologyIR): void {
  ir.agents.forEach((agent, i) => {
    if (!('path' in agent.model) || existsSync(agent.model.path)) return;
    throw new CliError(
      'CONFIG',
      `${relative(process.cwd(), config.file)}: agents[${i}].model.path: no folder at ${agent.model.path} (agent "${agent.name}")`,
      {
        hint: 'point it at a local Hugging Face model folder (config.json, tokenizer.json, model.safetensors); relative paths start from the config file',
      },
    );
  });
}

/** A model error inside a run, said with the agent and config field it comes from. */
function withAgentContext(error: unknown, config: LoadedConfig, ir: TopologyIR): unknown {
  const file = (error as { name?: string; file?: unknown } | null)?.file;
  if ((error as Error | null)?.name !== 'ModelError' || typeof file !== 'string') return error;
  const index = ir.agents.findIndex(
    (agent) => 'path' in agent.model && file.startsWith(agent.model.path),
  );
  if (index < 0) return error;
  const agent = ir.agents[index]!;
  return new CliError(
    'CONFIG',
    `${relative(process.cwd(), config.file)}: agents[${index}].model.path: agent "${agent.name}" cannot load its model: ${(error as Error).message}`,
    {
      hint: 'a model folder needs config.json, tokenizer.json and model.safetensors (or its shards) of a Llama, Qwen2 or Qwen3 model',
      cause: error,
    },
  );
}

/** What `run` and `submit` print for each answer: the question, the text, and what it cost. */
export function printAnswers(
  answers: readonly Answer[],
  questions: readonly Question[],
  out: Output,
  perRound: boolean,
): void {
  for (const answer of answers) {
    const t = answerTotals(answer);
    const question = questions.find((q) => q.id === answer.requestId);
    out.print(`${answer.requestId}: ${question?.text ?? ''}`);
    if (answer.error !== undefined) {
      out.print(`  error [${answer.error.code}]: ${answer.error.message}`);
    } else {
      out.print(`  answer: ${JSON.stringify(answer.text)}`);
    }
    out.print(
      `  ${answer.rounds} round(s) · ${t.outputTokens} output tokens · ${t.latentSteps} latent steps · ` +
        `${t.promptTokens} prompt tokens · ${(t.wallMs / 1000).toFixed(2)} s in agents`,
    );
    if (!perRound) continue;
    for (const u of answer.usage) {
      out.print(
        `    round ${u.round} ${u.agent.padEnd(12)} prompt ${u.promptTokens} · generated ${u.generatedTokens} · ` +
          `latent ${u.latentSteps} · ${(u.flops / 1e9).toFixed(2)} GFLOP · ${u.wallMs.toFixed(0)} ms`,
      );
    }
  }
}

/** Per-answer totals. */
export function answerTotals(answer: Pick<Answer, 'usage'>): {
  promptTokens: number;
  outputTokens: number;
  latentSteps: number;
  wallMs: number;
} {
  let promptTokens = 0;
  let outputTokens = 0;
  let latentSteps = 0;
  let wallMs = 0;
  for (const u of answer.usage) {
    promptTokens += u.promptTokens;
    outputTokens += u.generatedTokens;
    latentSteps += u.latentSteps;
    wallMs += u.wallMs;
  }
  return { promptTokens, outputTokens, latentSteps, wallMs };
}

/**
 * `rmas run`: returns the exit code (1 when some answer is an error).
 * @example await run('cli/examples/sequential.yaml', { question: ['What is 12 * 7?'] }, out);
 */
export async function run(
  configFile: string | undefined,
  options: RunOptions,
  out: Output,
): Promise<ExitCode> {
  const config = configFile === undefined ? await defaultConfig(out) : await loadConfig(configFile);
  const ir = withOverrides(config.resolvedIR, options);
  const settings = runSettings(config, options);
  const questions = await readQuestions({
    ...(options.question !== undefined ? { questions: options.question } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  out.debug(
    `rmas: ${ir.name} (${ir.agents.length} agents, up to ${ir.rounds.max} rounds), ${settings.mode} mode, ` +
      `${questions.length} question(s), links: ${settings.links ?? `fresh (seed ${settings.seed ?? 0})`}`,
  );
  checkModelFolders(config, ir);
  const started = performance.now();
  const answers = await answerQuestions(ir, questions, settings, out).catch((error: unknown) => {
    throw withAgentContext(error, config, ir);
  });
  const wallMs = performance.now() - started;
  const failed = answers.filter((a) => a.error !== undefined).length;

  const totals = answers.map(answerTotals);
  const outputTokens = totals.reduce((s, t) => s + t.outputTokens, 0);
  if (out.json) {
    out.emit({
      topology: ir.name,
      mode: settings.mode,
      answers: answers.map((a, i) => ({ ...a, totals: totals[i] })),
      summary: { questions: answers.length, failed, outputTokens, wallMs },
    });
  } else {
    printAnswers(answers, questions, out, options.usage === true);
    out.print(
      `\n${answers.length} answer(s)${failed > 0 ? `, ${failed} failed` : ''} in ${(wallMs / 1000).toFixed(1)} s ` +
        `(${settings.mode} mode, ${outputTokens} output tokens in all)`,
    );
  }
  return failed > 0 ? EXIT_CODES.failure : EXIT_CODES.ok;
}
