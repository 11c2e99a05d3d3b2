/**
 * `rmas eval` and the quick table through bench/table2.ts, on links trained here (the shipped
 * networks when present, else the presets' seeded weights: the wiring is under test, not accuracy).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskSplits } from '../../bench/tasks/index.ts';
import { quickTasks } from '../../cli/commands/table2.ts';
import { rmas } from './cliHarness.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rmas-table-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the efficiency table from the command line', () => {
  it('quick set: n questions per family of the test split, held-out compositions first', async () => {
    const { test } = buildTaskSplits();
    const families = [...new Set(test.map((t) => t.family))];
    const tasks = await quickTasks(2);
    expect(tasks).toHaveLength(2 * families.length);
    for (const family of families) {
      const mine = tasks.filter((t) => t.family === family);
      expect(mine).toHaveLength(2);
      const heldOut = test.filter((t) => t.family === family && t.heldOut).length;
      // Held-out ones first: as many of the two as the family has.
      expect(mine.filter((t) => t.heldOut)).toHaveLength(Math.min(2, heldOut));
      for (const t of mine) expect(test).toContainEqual(t);
    }
  });

  it('eval runs single agent, TextMAS and RecursiveMAS over a user file, and draws the chart', async () => {
    const links = join(dir, 'links');
    const trained = await rmas(
      'train',
      'cli/examples/sequential.yaml',
      '--data',
      'bench/tasks/data/knowledge.jsonl',
      '--steps',
      '1',
      '--out',
      join(links, 'sequential'),
      '--json',
    );
    expect(trained.code).toBe(0);
    const svg = join(dir, 'table.svg');
    const result = await rmas(
      'eval',
      '--data',
      'cli/examples/questions.jsonl',
      '--links',
      links,
      '--repetitions',
      '1',
      '--rounds',
      '1',
      '--plot',
      svg,
      '--json',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const table = JSON.parse(result.stdout);
    expect(table.questions).toBe(2);
    expect(
      table.rows.map((r: { method: string; rounds: number }) => `${r.method}@${r.rounds}`),
    ).toEqual(['single@1', 'text@1', 'latent@1']);
    // Latent mode decodes text only once, at the end: at most the bench's 32 new tokens per question.
    const latent = table.rows.find((r: { method: string }) => r.method === 'latent');
    expect(latent.errors).toBe(0);
    expect(latent.outputTokens).toBeLessThanOrEqual(32);
    expect(table.targets.length).toBeGreaterThan(0);
    expect(await readFile(svg, 'utf8')).toContain('<svg');
  });

  it('names a links folder that is not one', async () => {
    const result = await rmas('eval', '--data', 'cli/examples/questions.jsonl', '--links', dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`no trained links at ${join(dir, 'sequential')}`);
  });

  it('--quick takes no questions or config', async () => {
    const result = await rmas('run', '--quick', '-q', 'x');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('it takes no --question');
  });
});
