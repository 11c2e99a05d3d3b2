/**
 * Config files: a topology IR (what the DSL builds, `toIR(t)`), as JSON or YAML, read with the
 * DSL's own `parseIR` so a file and a builder are checked by the same rules. Optionally wrapped
 * with the run settings the flags would otherwise give:
 *
 * ```yaml
 * topology: ./sequential.json     # or the IR itself, inline
 * run:
 *   mode: latent                  # latent (RecursiveMAS) | text (Recursive-TextMAS)
 *   links: ./links                # trained links (rmas train --out); default fresh links
 *   seed: 1                       # seed of fresh links and of presets without trained weights
 *   maxBatchSize: 8               # requests per batched model call
 * ```
 *
 * Relative paths (model folders, `topology`, `run.links`) start from the config file's folder.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { formatPath, parseIR } from '../dsl/index.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import { CliError } from './errors.ts';

/** Run settings a config file may carry; command-line flags override them. */
export interface RunSettings {
  mode?: 'latent' | 'text';
  /** Folder of trained links (absolute once loaded). */
  links?: string;
  seed?: number;
  maxBatchSize?: number;
}

export interface LoadedConfig {
  /** The config file, absolute. */
  file: string;
  /** The topology as written (model paths unchanged: what `inspect` shows). */
  ir: TopologyIR;
  /** The same topology with local model paths made absolute (what the runtime loads). */
  resolvedIR: TopologyIR;
  run: RunSettings;
}

const runSchema = z.strictObject({
  mode: z.enum(['latent', 'text']).optional(),
  links: z.string().min(1).optional(),
  seed: z.number().int().optional(),
  maxBatchSize: z.number().int().min(1).optional(),
});

const wrapperSchema = z.strictObject({
  topology: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
  run: runSchema.optional(),
});

/**
 * Reads a config file: a bare topology IR, or `{ topology, run }`. Throws CliError('CONFIG') that
 * names the file, the field and the problem.
 * @example
 * const { ir, resolvedIR, run } = await loadConfig('cli/examples/sequential.yaml');
 */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  const document = await readDocument(path, file);
  const base = dirname(path);
  const isWrapper =
    document !== null &&
    typeof document === 'object' &&
    !Array.isArray(document) &&
    'topology' in document;
  if (!isWrapper) {
    const ir = checkIR(document, file, '');
    return { file: path, ir, resolvedIR: resolveModelPaths(ir, base), run: {} };
  }
  const wrapper = wrapperSchema.safeParse(document);
  if (!wrapper.success) {
    const issue = wrapper.error.issues[0]!;
    throw new CliError(
      'CONFIG',
      `${file}: ${formatPath(issue.path as (string | number)[])}: ${issue.message}`,
      {
        hint: 'a wrapped config has "topology" (the IR, or a path to it) and an optional "run" with mode, links, seed, maxBatchSize',
      },
    );
  }
  const { topology, run = {} } = wrapper.data;
  let ir: TopologyIR;
  let irBase = base;
  if (typeof topology === 'string') {
    const irPath = resolve(base, topology);
    ir = checkIR(await readDocument(irPath, topology), topology, '');
    irBase = dirname(irPath);
  } else {
    ir = checkIR(topology, file, 'topology');
  }
  return {
    file: path,
    ir,
    resolvedIR: resolveModelPaths(ir, irBase),
    run: { ...run, ...(run.links !== undefined ? { links: resolve(base, run.links) } : {}) },
  };
}

async function readDocument(path: string, shown: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CliError(
      'CONFIG',
      code === 'ENOENT'
        ? `config file not found: ${shown}`
        : `cannot read ${shown}: ${String(error)}`,
      {
        hint: 'pass a topology as JSON or YAML (examples in cli/examples/), or build one with the DSL and save toIR(t)',
      },
    );
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new CliError('CONFIG', `${shown}: not valid JSON: ${(error as Error).message}`, {
        hint: 'fix the syntax, or save the file as .yaml',
      });
    }
  }
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      const where = at === undefined ? '' : `:${at.line}:${at.col}`;
      throw new CliError(
        'CONFIG',
        `${shown}${where}: not valid YAML: ${error.message.split('\n')[0]}`,
        {
          hint: 'fix the syntax at that line (YAML is indentation-sensitive; JSON is valid YAML too)',
        },
      );
    }
    throw error;
  }
}

/** parseIR, with issues rendered as `file: path: message [code]`. */
function checkIR(value: unknown, shown: string, prefix: string): TopologyIR {
  const result = parseIR(value);
  if (result.ok) return result.ir;
  const lines = result.issues.map((issue) => {
    const path = formatPath(issue.path);
    const field = prefix === '' ? path : path === '(root)' ? prefix : `${prefix}.${path}`;
    return `  ${shown}: ${field}: ${issue.message} [${issue.code}]`;
  });
  const count = result.issues.length;
  throw new CliError(
    'CONFIG',
    `${shown} is not a valid topology (${count} issue${count === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    {
      hint: 'fix the fields listed; `rmas inspect <config>` checks a file without running it',
      details: result.issues.map((issue) => ({
        ...issue,
        path: prefix === '' ? issue.path : [prefix, ...issue.path],
        file: shown,
      })),
    },
  );
}

/**
 * Makes the local model folders of a topology absolute, relative to `base`.
 * @example resolveModelPaths(ir, '/home/me/configs') // { path: './qwen' } -> { path: '/home/me/configs/qwen' }
 */
export function resolveModelPaths(ir: TopologyIR, base: string): TopologyIR {
  return {
    ...ir,
    agents: ir.agents.map((agent) =>
      'path' in agent.model && !isAbsolute(agent.model.path)
        ? { ...agent, model: { path: resolve(base, expandHome(agent.model.path)) } }
        : agent,
    ),
  };
}

function expandHome(path: string): string {
  const home = process.env['HOME'];
  return path.startsWith('~/') && home !== undefined ? `${home}${path.slice(1)}` : path;
}
