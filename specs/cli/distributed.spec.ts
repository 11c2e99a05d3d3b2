/**
 * `rmas topics`, `rmas worker` and `rmas submit` on the real broker: one worker process per agent
 * (the command itself, spawned), questions submitted from the command line, the answers equal to
 * `rmas run`'s in one process, a graceful stop on SIGTERM or after `--idle-exit-ms` without work,
 * and a question id submitted again answered again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueTopic } from '../harness/kafka.ts';
import { rmas } from './cliHarness.ts';

interface Worker {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startWorker(config: string, agent: string, brokers: string, extra: string[] = []): Worker {
  const child = spawn(
    process.execPath,
    ['cli/bin.js', 'worker', config, '--agent', agent, '--brokers', brokers, ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RMAS_BACKEND: 'wasm' } },
  );
  let text = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => text, exited };
}

async function ready(worker: Worker, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.stderr().includes('is in group')) {
    if (worker.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`worker did not get ready:\n${worker.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let dir: string;
let config: string;
let brokers: string;
const workers: Worker[] = [];

/** The sequential example made small, under a topology name (hence topics) no other run uses. */
async function smallConfig(tag: string): Promise<string> {
  const example = await readFile('cli/examples/sequential.yaml', 'utf8');
  const file = join(dir, `${tag}.yaml`);
  await writeFile(
    file,
    example
      .replace('name: sequential', `name: ${uniqueTopic(`cli-${tag}`)}`)
      .replaceAll('latentSteps: 8', 'latentSteps: 2')
      .replace('rounds: { max: 3 }', 'rounds: { max: 2 }')
      .replace('maxNewTokens: 24', 'maxNewTokens: 3'),
  );
  return file;
}

beforeAll(async () => {
  brokers = (await kafkaBrokers()).join(',');
  dir = await mkdtemp(join(tmpdir(), 'rmas-distributed-'));
  config = await smallConfig('seq');
}, 180_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('rmas worker / submit', () => {
  it('answers through one worker per agent as rmas run does in one process, then stops on SIGTERM', async () => {
    // The first worker creates the topology's topics; the others join once they exist.
    workers.push(startWorker(config, 'planner', brokers, ['--create-topics', '2']));
    await ready(workers[0]!);
    workers.push(startWorker(config, 'critic', brokers), startWorker(config, 'solver', brokers));
    await Promise.all(workers.map((w) => ready(w)));

    const questions = ['What is 12 * 7?', 'Trace: x = 3; print(x)', 'What is 2 + 2?'];
    const args = questions.flatMap((q) => ['-q', q]);
    const submitted = await rmas(
      'submit',
      config,
      '--brokers',
      brokers,
      ...args,
      '--timeout-ms',
      '90000',
      '--json',
    );
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const distributed = JSON.parse(submitted.stdout);
    expect(distributed.missing).toEqual([]);
    expect(distributed.deadLetters).toEqual([]);

    const local = JSON.parse((await rmas('run', config, ...args, '--json')).stdout);
    const texts = (answers: { requestId: string; text: string; rounds: number }[]) =>
      answers.map((a) => [a.requestId, a.text, a.rounds]);
    expect(texts(distributed.answers)).toEqual(texts(local.answers));

    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0]);
    for (const w of workers) expect(w.stderr()).toMatch(/stopped: \d+ batches, \d+ requests/);
    // The solver decoded every answer.
    expect(workers[2]!.stderr()).toContain('3 answers (0 errors)');
  }, 240_000);

  it('a worker with --idle-exit-ms stops by itself (exit 0) once it has had no work that long', async () => {
    const idle = await smallConfig('idle');
    const idleMs = 2000;
    const planner = startWorker(idle, 'planner', brokers, [
      '--create-topics',
      '1',
      '--idle-exit-ms',
      String(idleMs),
    ]);
    workers.push(planner);
    await ready(planner);
    const joined = performance.now();
    const code = await Promise.race([
      planner.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000)),
    ]);
    const ranMs = performance.now() - joined;
    expect(code, planner.stderr()).toBe(0);
    // Not before the idle period (less the time its "is in group" line took to reach us).
    expect(ranMs).toBeGreaterThanOrEqual(idleMs - 250);
    expect(planner.stderr()).toContain(`no work for ${idleMs} ms, stopping`);
    expect(planner.stderr()).toContain('stopped: 0 batches, 0 requests');
  }, 20_000);

  it('the same question id submitted twice is answered twice, each under its own submission', async () => {
    const twice = await smallConfig('twice');
    expect((await rmas('topics', twice, '--brokers', brokers, '--create', '1')).code).toBe(0);
    // Bounded workers: they exit by themselves once both submissions are answered. The idle
    // period covers the wait for the slowest worker to join and the gap between submissions.
    const bounded = ['--idle-exit-ms', '5000'];
    const agents = ['planner', 'critic', 'solver'].map((agent) =>
      startWorker(twice, agent, brokers, bounded),
    );
    workers.push(...agents);
    await Promise.all(agents.map((w) => ready(w)));
    const logs = () => agents.map((w) => w.stderr()).join('');

    const question = ['-q', 'What is 2 + 2?'];
    const submitOnce = async () => {
      const result = await rmas(
        'submit',
        twice,
        '--brokers',
        brokers,
        ...question,
        '--timeout-ms',
        '6000',
        '--json',
      );
      expect(result.code, result.stdout + result.stderr + logs()).toBe(0);
      return JSON.parse(result.stdout);
    };
    const first = await submitOnce();
    const second = await submitOnce();
    for (const submitted of [first, second]) {
      expect(submitted.submission).toMatch(/^[0-9a-f]{8}$/);
      expect(submitted.missing).toEqual([]);
      expect(submitted.answers.map((a: { requestId: string }) => a.requestId)).toEqual(['q1']);
    }
    expect(second.submission).not.toBe(first.submission);
    // One process, same question and links: the answer `rmas run` gives, both times.
    const local = JSON.parse((await rmas('run', twice, ...question, '--json')).stdout);
    expect(first.answers[0].text).toBe(local.answers[0].text);
    expect(second.answers[0].text).toBe(local.answers[0].text);

    const codes = await Promise.all(agents.map((w) => w.exited));
    expect(codes, logs()).toEqual([0, 0, 0]);
    // The solver decoded two answers: the second submission was not skipped as a redelivery.
    expect(agents[2]!.stderr()).toContain('2 answers (0 errors)');
  }, 20_000);

  it('submit without workers names the requests left unanswered (exit 1)', async () => {
    const result = await rmas(
      'submit',
      config,
      '--brokers',
      brokers,
      '-q',
      'anyone?',
      '--timeout-ms',
      '1500',
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('0/1 answered, 1 missing (q1)');
    expect(result.stderr).toContain('are workers running for every agent');
  }, 60_000);

  it('a worker for an agent the topology lacks is a usage error (exit 2)', async () => {
    const result = await rmas('worker', config, '--agent', 'nobody', '--brokers', brokers);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pick one of: planner, critic, solver');
  });
});
