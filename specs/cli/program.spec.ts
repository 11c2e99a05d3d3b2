/**
 * The command line in-process (runCli with captured streams): help with examples, usage errors,
 * machine output, the commands whose engines are not in this build, and a real run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../runtime/index.ts';
import { rmas } from './cliHarness.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rmas-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COMMANDS = ['run', 'eval', 'train', 'bench', 'topics', 'worker', 'submit', 'inspect'];

describe('rmas', () => {
  it('lists every command, the exit codes, and has examples in each command help', async () => {
    const top = await rmas('--help');
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.stdout).toMatch(new RegExp(`\\n  ${command} `));
    expect(top.stdout).toContain('Exit codes:');
    for (const command of COMMANDS) {
      const help = await rmas(command, '--help');
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`Examples:\\n  rmas ${command}`));
    }
  });

  it('--brokers help states its default once, as the $KAFKA_BROKERS rule', async () => {
    for (const command of ['topics', 'worker', 'submit']) {
      const help = (await rmas(command, '--help')).stdout;
      // The option's entry: its first line and the wrapped lines under it, up to the next option.
      const entry = help.match(/\n {2}--brokers <list>.*(\n {4,}\S.*)*/)?.[0].replace(/\s+/g, ' ');
      expect(entry, command).toBe(
        ' --brokers <list> Kafka brokers, comma-separated (default: $KAFKA_BROKERS, else 127.0.0.1:9092)',
      );
    }
  });

  it('exits 2 on a usage error, naming the option', async () => {
    const unknown = await rmas('run', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const bad = await rmas('run', '--rounds', 'two', '-q', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected an integer >= 1, got "two"');
    const missing = await rmas('eval');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--data <file>' not specified");
  });

  it('inspect: valid example, Mermaid, SVG from Graphviz, differentiability as JSON', async () => {
    const svg = join(dir, 'seq.svg');
    const result = await rmas('inspect', 'cli/examples/sequential.yaml', '--svg', svg, '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(true);
    expect(report.agents).toEqual(['planner', 'critic', 'solver']);
    expect(report.mermaid).toContain('agent_solver ==> answer');
    expect(report.differentiability.differentiable).toBe(true);
    const drawing = await readFile(svg, 'utf8');
    expect(drawing).toContain('<svg');
    // Graphviz titles each edge "tail->head" (escaped): every hand-off of the topology is drawn.
    for (const [from, to] of [
      ['planner', 'critic'],
      ['critic', 'solver'],
      ['solver', 'planner'],
    ]) {
      expect(drawing).toContain(`<title>agent_${from}&#45;&gt;agent_${to}</title>`);
    }
  });

  it('inspect: in text mode the report says why gradients stop', async () => {
    const result = await rmas('inspect', 'cli/examples/mixture.json', '--no-svg', '--mode', 'text');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Differentiability (text mode): NOT end to end.');
    expect(result.stdout).toContain(
      'math->summarizer passes through argmax decoding and tokenisation',
    );
  });

  it('inspect: an invalid file exits 2 with each field path, and as JSON with the issues', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        agents: [{ name: 'a', model: { preset: 'p' }, hiddenSize: 8, prompt: '{{question}}' }],
        decode: { agent: 'b' },
      }),
    );
    const human = await rmas('inspect', file, '--no-svg');
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('bad.json: decode.agent:');
    expect(human.stderr).not.toContain('    at ');
    const machine = await rmas('inspect', file, '--no-svg', '--json');
    expect(machine.code).toBe(2);
    const { error } = JSON.parse(machine.stdout);
    expect(error.code).toBe('CONFIG');
    expect(error.details[0].path).toEqual(['decode', 'agent']);
  });

  it('submit checks its questions before it touches a broker', async () => {
    const result = await rmas('submit', 'cli/examples/sequential.yaml', '--input', 'no/such.jsonl');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('questions file not found: no/such.jsonl');
  });

  it('bench --list names the benchmarks in bench/', async () => {
    const result = await rmas('bench', '--list', '--json');
    expect(result.code).toBe(0);
    const names = JSON.parse(result.stdout).benchmarks.map((b: { name: string }) => b.name);
    expect(names).toContain('latent');
    expect(names).not.toContain('run');
    const unknown = await rmas('bench', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown benchmark(s): nope');
  });

  it('bench --results-only summarises a result file and plots its targets', async () => {
    const committed = JSON.parse(await readFile('bench/results/latent.json', 'utf8')) as {
      targets: { name: string; met: boolean }[];
    };
    const svg = join(dir, 'targets.svg');
    const result = await rmas('bench', 'latent', '--results-only', '--plot', svg);
    expect(result.code).toBe(0);
    const met = committed.targets.filter((t) => t.met).length;
    expect(result.stdout).toContain(`latent: ${met}/${committed.targets.length} targets met`);
    for (const target of committed.targets) expect(result.stdout).toContain(target.name);
    const chart = await readFile(svg, 'utf8');
    expect(chart).toContain('<svg');
    expect(chart).toContain('measured / target');
  });

  it('run answers each question with its usage, and frees every tensor', async () => {
    await initBackend({ log: false });
    const before = tf.memory().numTensors;
    const result = await rmas(
      'run',
      'cli/examples/sequential.yaml',
      '-q',
      'What is 12 * 7?',
      '-q',
      'What is 2 + 2?',
      '--rounds',
      '2',
      '--max-new-tokens',
      '3',
      '--json',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { answers, summary, mode } = JSON.parse(result.stdout);
    expect(mode).toBe('latent');
    expect(answers.map((a: { requestId: string }) => a.requestId)).toEqual(['q1', 'q2']);
    for (const answer of answers) {
      expect(answer.rounds).toBe(2);
      // 3 agents x 2 rounds, and the decoder decodes at most --max-new-tokens in the last round.
      expect(answer.usage).toHaveLength(6);
      expect(answer.totals.outputTokens).toBeLessThanOrEqual(3);
      // Latent steps: m = 8 for every agent but the final decoder: 3 + 2 rollouts.
      expect(answer.totals.latentSteps).toBe(5 * 8);
    }
    expect(summary.questions).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });
});
