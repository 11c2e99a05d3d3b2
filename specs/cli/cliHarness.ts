/** The command line in-process for the CLI specs: `runCli` with its output streams captured. */
import { PassThrough } from 'node:stream';
import { runCli } from '../../cli/program.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `rmas <args>` in this process and returns its exit code and everything it wrote.
 * @example const { code, stdout } = await rmas('run', '--help'); // code 0, stdout the help text
 */
export async function rmas(...args: string[]): Promise<CliResult> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(['node', 'rmas', ...args], {
    stdout: stdout.stream,
    stderr: stderr.stream,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
