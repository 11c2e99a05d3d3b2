/**
 * `rmas train` end to end on a few role texts: the links it saves are the ones `rmas run --links`
 * loads, and the loss curves are drawn.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmas } from './cliHarness.ts';

let dir: string;
/** The sequential example made small: 1 round, 2 latent steps (link shapes do not depend on them). */
let small: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rmas-train-'));
  const example = await readFile('cli/examples/sequential.yaml', 'utf8');
  small = join(dir, 'small.yaml');
  await writeFile(
    small,
    example
      .replaceAll('latentSteps: 8', 'latentSteps: 2')
      .replace('rounds: { max: 3 }', 'rounds: { max: 1 }'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rmas train', () => {
  it('trains the inner links of the agents named in the data, saves every link, and run loads them', async () => {
    const data = join(dir, 'roles.jsonl');
    await writeFile(
      data,
      [
        { agent: 'planner', prompt: 'recall age', target: 'age = 4' },
        { agent: 'planner', prompt: 'recall app', target: 'app = 5' },
        { agent: 'planner', prompt: 'recall arg', target: 'arg = 4' },
        { agent: 'stranger', prompt: 'x', target: 'y' },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    );
    const links = join(dir, 'links');
    const trained = await rmas(
      'train',
      small,
      '--data',
      data,
      '--steps',
      '2',
      '--batch-size',
      '2',
      '--out',
      links,
      '--json',
    );
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    const report = JSON.parse(trained.stdout);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ link: 'inner:planner', examples: 3 });
    expect(Number.isFinite(report.results[0].lastLoss)).toBe(true);
    // Every link of the sequential topology: 3 inner, 3 outer (2 forward, 1 feedback).
    const files = (await readdir(links)).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual([
      'inner.critic.json',
      'inner.planner.json',
      'inner.solver.json',
      'outer.critic.solver.json',
      'outer.planner.critic.json',
      'outer.solver.planner.json',
    ]);
    expect(await readFile(join(links, 'loss.svg'), 'utf8')).toContain('<svg');

    const answered = await rmas(
      'run',
      small,
      '--links',
      links,
      '-q',
      'recall age',
      '--max-new-tokens',
      '2',
      '--json',
    );
    expect(answered.code).toBe(0);
    expect(JSON.parse(answered.stdout).answers[0].error).toBeUndefined();
  });

  it('says which agents the data should name when none matches', async () => {
    const data = join(dir, 'other.jsonl');
    await writeFile(data, '{"agent": "writer", "prompt": "p", "target": "t"}\n');
    const result = await rmas(
      'train',
      'cli/examples/sequential.yaml',
      '--data',
      data,
      '--steps',
      '1',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no line names an agent of "sequential"');
    expect(result.stderr).toContain('one of: planner, critic, solver');
  });

  it("trains the outer links from the inner loop's links on question-answer pairs", async () => {
    const data = join(dir, 'qa.jsonl');
    await writeFile(
      data,
      '{"question": "2 + 3 =", "answer": "5"}\n{"question": "4 + 4 =", "answer": "8"}\n',
    );
    const links = join(dir, 'links');
    const outer = join(dir, 'outer');
    const result = await rmas(
      'train',
      small,
      '--loop',
      'outer',
      '--from',
      links,
      '--data',
      data,
      '--steps',
      '2', // the warmup's first step has learning rate 0
      '--batch-size',
      '2',
      '--out',
      outer,
      '--json',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.results).toEqual([expect.objectContaining({ link: 'outer links', examples: 2 })]);
    // The inner links come through unchanged: --from loaded them, the outer loop froze them.
    expect(await readFile(join(outer, 'inner.planner.safetensors'))).toEqual(
      await readFile(join(links, 'inner.planner.safetensors')),
    );
    expect(await readFile(join(outer, 'outer.planner.critic.safetensors'))).not.toEqual(
      await readFile(join(links, 'outer.planner.critic.safetensors')),
    );
  });

  it('the outer loop needs answers', async () => {
    const data = join(dir, 'no-answers.jsonl');
    await writeFile(data, '{"question": "2 + 3 ="}\n');
    const result = await rmas('train', small, '--loop', 'outer', '--data', data);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('has no "answer"');
  });
});
