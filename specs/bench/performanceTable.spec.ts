/** The README's performance table is the committed results' table (regenerate it when they change). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { performanceTable } from '../../bench/lib/performanceTable.ts';

describe("README's performance table", () => {
  it('equals `npx tsx bench/lib/performanceTable.ts` over bench/results/*.json', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = performanceTable();
    expect(table.split('\n').length).toBeGreaterThan(10);
    expect(readme).toContain(`${table}\n`);
  });
});
