import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../cli/output.ts';

function sink(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 120 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('output', () => {
  it('draws a progress bar with an ETA on a terminal', () => {
    const err = sink(true);
    const out = createOutput({
      json: false,
      verbose: false,
      stdout: sink(false).stream,
      stderr: err.stream as unknown as NodeJS.WriteStream,
    });
    const bar = out.progress(4, 'questions');
    expect(bar.visible).toBe(true);
    bar.update(2, 'q2');
    bar.stop();
    expect(err.text()).toContain('questions');
    expect(err.text()).toContain('2/4');
    expect(err.text()).toContain('ETA');
  });

  it('stays silent off a terminal and with --json, where stdout gets JSON only', () => {
    for (const [json, tty] of [
      [false, false],
      [true, true],
    ] as const) {
      const err = sink(tty);
      const std = sink(false);
      const out = createOutput({
        json,
        verbose: false,
        stdout: std.stream,
        stderr: err.stream as unknown as NodeJS.WriteStream,
      });
      const bar = out.progress(3, 'x');
      bar.update(1);
      bar.stop();
      out.note('a note');
      out.print('human');
      out.emit({ machine: true });
      expect(bar.visible).toBe(false);
      expect(err.text()).toBe(json ? '' : 'a note\n');
      expect(std.text()).toBe(json ? '{"machine":true}\n' : 'human\n');
    }
  });
});
