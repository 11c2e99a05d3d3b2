/**
 * The README, run as a new user would: every ```sh block in order on a fresh copy of the checkout,
 * and every ```ts block type-checked and executed. Nothing in a command block may go stale.
 *
 * Conventions for README writers:
 * - A ```sh block runs as one `bash -e -o pipefail` script, from the root of a copy of the checkout
 *   (tracked and untracked, not ignored files; node_modules linked), so blocks see the files
 *   earlier blocks wrote and the working tree stays clean. Blocks run in the order they appear.
 * - `npm ci` and `npm test` are the only commands not run (on their own line, or as a step of an
 *   `&&` chain): the copy already has its dependencies, and `npm test` runs this very test.
 * - A long job is run in its documented quick form: put `<!-- doc-test: quick="<script>" -->` on
 *   the line right before its ```sh block. The script replaces the block; it must have as many
 *   commands (lines, `&&` steps) as the block, each starting with the same first three words as
 *   the block's (all of them when it has fewer: `npm start` → `npm start -- --limit 1`; `npx rmas
 *   train` with `--steps 1` added), so it cannot drift from what it stands for.
 * - A block may leave processes running in the background (`npx rmas worker … > planner.log 2>&1 &`;
 *   send their output to a file: the block's pipes close when it exits): later blocks can use
 *   them, and they are stopped (SIGTERM, then SIGKILL) when the README test ends. When a block
 *   mentions `rmas topics|worker|submit`, `kcat` or `KAFKA_BROKERS`, every block gets the suite's
 *   real broker (the harness's, never a mock) in `KAFKA_BROKERS`, which the README tells users to
 *   set and which `rmas` takes as the default of `--brokers`.
 * - ```ts blocks are checked together by tsc with the repo's settings, then each runs with tsx from
 *   the copy's root, in order with the ```sh blocks; they import from the repo by relative path
 *   (`./dsl/index.ts`). A program that serves until stopped (a worker) gets
 *   `<!-- doc-test: background -->` on the line before its ```ts fence: it is started and the next
 *   blocks run; after the last block it must still be running, and must exit with code 0 on
 *   SIGTERM. Other languages (```text, ```yaml, ```mermaid, ...) are not run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers } from '../harness/kafka.ts';
import {
  type CodeBlock,
  commandsOf,
  extractBlocks,
  head,
  NOT_RUN,
  runnableScript,
} from './readmeBlocks.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const BLOCKS = extractBlocks(README);
// One stable place per checkout, so that `npx rmas` reuses its npx link between runs.
const COPY = join(
  tmpdir(),
  `rmas-readme-${createHash('sha1').update(ROOT).digest('hex').slice(0, 8)}`,
);
const BLOCK_TIMEOUT_MS = 110_000;
/** Blocks that need a broker: they get the suite's in KAFKA_BROKERS. */
const KAFKA_COMMAND = /\brmas (topics|worker|submit)\b|\bkcat\b|KAFKA_BROKERS/;
/** How long a background block gets to stop after SIGTERM (drain, commit, disconnect). */
const STOP_TIMEOUT_MS = 20_000;

function blockFile(block: CodeBlock): string {
  return `readme-block-${block.line}.ts`;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '1', FORCE_COLOR: '0' };
  for (const key of Object.keys(env)) {
    if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') delete env[key];
  }
  return env;
}

function copyCheckout(): void {
  rmSync(COPY, { recursive: true, force: true });
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  )
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(ROOT, file)));
  for (const file of files) {
    mkdirSync(dirname(join(COPY, file)), { recursive: true });
    cpSync(join(ROOT, file), join(COPY, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(COPY, 'node_modules'), 'dir');
  for (const block of BLOCKS.filter((b) => b.lang === 'ts'))
    writeFileSync(join(COPY, blockFile(block)), block.code);
}

/** Process groups of the blocks run so far: what they left running in the background. */
const groups: number[] = [];
/** `KAFKA_BROKERS` for the blocks: the suite's broker, when some block talks to Kafka. */
let kafkaEnv: Record<string, string> = {};

interface Started {
  pid: number | undefined;
  /** Everything written so far on stdout and stderr. */
  output: () => string;
  running: () => boolean;
  /** Settles at the exit (not at the end of the output: background jobs may hold the pipes). */
  exited: Promise<{ status: number | null; output: string }>;
}

/** Starts a command in its own process group; a foreground one is killed after `timeoutMs`. */
function start(command: string, args: string[], timeoutMs?: number): Started {
  const child = spawn(command, args, {
    cwd: COPY,
    env: { ...cleanEnv(), ...kafkaEnv },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) groups.push(child.pid);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ status: number | null; output: string }>((resolvePromise) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            output += `\n(timed out after ${timeoutMs} ms)`;
            if (child.pid !== undefined) stopGroup(child.pid, 'SIGKILL');
          }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolvePromise({ status: null, output: `${output}\n${error.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== null) output += `\n(killed by ${signal})`;
      // Let the last output arrive; background jobs may hold the pipes open for good.
      setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolvePromise({ status: code, output });
      }, 100);
    });
  });
  return {
    pid: child.pid,
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    exited,
  };
}

/**
 * Runs a command in its own process group, to its exit (not to the end of its output: a block may
 * leave workers running in the background, which later blocks use and afterAll stops).
 */
function run(command: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return start(command, args, BLOCK_TIMEOUT_MS).exited;
}

/** The ```ts blocks started in the background, still to be stopped and checked. */
const background: { block: CodeBlock; started: Started }[] = [];

function stopGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

describe('the doc-test conventions', () => {
  it('extracts blocks, directives and skips as documented', () => {
    const markdown = [
      'Intro',
      '```sh',
      'npm ci && npx rmas run -q "2 + 2?"   # install, then run',
      'npm test',
      '```',
      '<!-- doc-test: quick="npm start -- --limit 2" -->',
      '```sh',
      'npm start',
      '```',
      '```yaml',
      'a: 1',
      '```',
      '```ts',
      "console.log('hi');",
      '```',
      '<!-- doc-test: background -->',
      '```ts',
      'setInterval(() => {}, 1000);',
      '```',
    ].join('\n');
    const blocks = extractBlocks(markdown);
    expect(blocks).toEqual([
      {
        lang: 'sh',
        line: 2,
        code: 'npm ci && npx rmas run -q "2 + 2?"   # install, then run\nnpm test\n',
      },
      { lang: 'sh', line: 7, code: 'npm start\n', quick: 'npm start -- --limit 2' },
      { lang: 'ts', line: 13, code: "console.log('hi');\n" },
      { lang: 'ts', line: 17, code: 'setInterval(() => {}, 1000);\n', background: true },
    ]);
    expect(runnableScript(blocks[0]!.code)).toEqual({
      script: 'npx rmas run -q "2 + 2?" # install, then run\n',
      skipped: ['npm ci', 'npm test'],
    });
    expect(commandsOf('a && b # c\n\n# only a comment\nd\n')).toEqual(['a', 'b', 'd']);
    expect(() => extractBlocks('<!-- doc-test: skip -->\n```sh\nx\n```\n')).toThrow(
      'unknown doc-test directive',
    );
    expect(() => extractBlocks('<!-- doc-test: quick="x" -->\n```ts\nx\n```\n')).toThrow(
      'right before a ```sh block',
    );
    expect(() => extractBlocks('<!-- doc-test: background -->\n```sh\nx &\n```\n')).toThrow(
      'right before a ```ts block',
    );
    expect(() => extractBlocks('<!-- doc-test: background -->\ntext\n```ts\nx\n```\n')).toThrow(
      'right before a ```ts block',
    );
  });

  it('the README has runnable blocks, and every quick form matches its block', () => {
    expect(BLOCKS.filter((b) => b.lang === 'sh').length).toBeGreaterThan(3);
    expect(BLOCKS.filter((b) => b.lang === 'ts').length).toBeGreaterThan(3);
    for (const block of BLOCKS) {
      if (block.quick === undefined) continue;
      const documented = commandsOf(runnableScript(block.code).script);
      const quick = commandsOf(block.quick);
      expect(quick.length, `README:${block.line}: quick form has another number of commands`).toBe(
        documented.length,
      );
      quick.forEach((command, i) => {
        // The same program and subcommand: up to three words (`npm start`, `npx rmas train`).
        const words = Math.min(3, documented[i]!.split(/\s+/).length);
        expect(head(command, words), `README:${block.line}: quick form of "${documented[i]}"`).toBe(
          head(documented[i]!, words),
        );
      });
    }
  });

  it('skips nothing but the install and the suite itself', () => {
    const skipped = BLOCKS.filter((b) => b.lang === 'sh').flatMap(
      (b) => runnableScript(b.code).skipped,
    );
    for (const command of skipped) expect(NOT_RUN).toContain(command);
  });
});

describe('README', () => {
  beforeAll(async () => {
    copyCheckout();
    if (BLOCKS.some((b) => KAFKA_COMMAND.test(b.quick ?? b.code))) {
      kafkaEnv = { KAFKA_BROKERS: (await kafkaBrokers()).join(',') };
    }
  }, 240_000);

  afterAll(async () => {
    for (const pgid of groups) stopGroup(pgid, 'SIGTERM');
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 2_000));
    for (const pgid of groups) stopGroup(pgid, 'SIGKILL');
    rmSync(COPY, { recursive: true, force: true });
  }, 30_000);

  it('a block returns at its exit, even with a job left in the background', async () => {
    const started = performance.now();
    const result = await run('bash', ['-e', '-c', 'sleep 60 & echo started']);
    expect(result).toEqual({ status: 0, output: 'started\n' });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('type-checks every ts block', async () => {
    const ts = BLOCKS.filter((b) => b.lang === 'ts');
    writeFileSync(
      join(COPY, 'tsconfig.readme.json'),
      JSON.stringify({ extends: './tsconfig.json', include: ts.map(blockFile) }),
    );
    const result = await run(process.execPath, [
      join(COPY, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.readme.json',
    ]);
    expect(result.output.replaceAll('readme-block-', 'README line ')).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);

  for (const block of BLOCKS) {
    const title = `README:${block.line} ${block.lang}: ${(block.quick ?? block.code).split('\n')[0]}`;
    it(
      title,
      async () => {
        if (block.background) {
          // Started and left to serve; checked once the last block has run (below).
          background.push({
            block,
            started: start(process.execPath, ['--import', 'tsx', blockFile(block)]),
          });
          return;
        }
        const result =
          block.lang === 'ts'
            ? await run(process.execPath, ['--import', 'tsx', blockFile(block)])
            : await run('bash', [
                '-e',
                '-o',
                'pipefail',
                '-c',
                block.quick ?? runnableScript(block.code).script,
              ]);
        if (result.status !== 0) {
          expect.fail(
            `README:${block.line} exited with ${result.status}:\n${result.output.slice(-4000)}`,
          );
        }
      },
      BLOCK_TIMEOUT_MS + 10_000,
    );
  }

  if (BLOCKS.some((b) => b.background)) {
    it(
      'background blocks served to the end and stop on SIGTERM with exit code 0',
      async () => {
        const problems: string[] = [];
        for (const { block, started } of background) {
          if (!started.running()) {
            const early = await started.exited;
            problems.push(
              `README:${block.line} exited with ${early.status} before the last block ran:\n${early.output.slice(-4000)}`,
            );
            continue;
          }
          stopGroup(started.pid!, 'SIGTERM');
          const stopped = await Promise.race([
            started.exited,
            new Promise<undefined>((resolvePromise) =>
              setTimeout(() => resolvePromise(undefined), STOP_TIMEOUT_MS),
            ),
          ]);
          if (stopped === undefined) {
            problems.push(
              `README:${block.line} still running ${STOP_TIMEOUT_MS} ms after SIGTERM:\n${started.output().slice(-4000)}`,
            );
          } else if (stopped.status !== 0) {
            problems.push(
              `README:${block.line} exited with ${stopped.status} on SIGTERM:\n${stopped.output.slice(-4000)}`,
            );
          }
        }
        expect(problems).toEqual([]);
      },
      STOP_TIMEOUT_MS * 2 + 10_000,
    );
  }
});
