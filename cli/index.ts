/**
 * cli/: the `rmas` command. `runCli(argv)` runs it in-process and returns the exit code; the
 * pieces it is made of (config files, questions, errors, drawings) are exported for tools that
 * want the same behaviour.
 *
 * @example
 * import { runCli } from './cli/index.ts';
 * process.exitCode = await runCli(['node', 'rmas', 'inspect', 'cli/examples/sequential.yaml', '--no-svg']);
 */
export { type LoadedConfig, loadConfig, type RunSettings, resolveModelPaths } from './config.ts';
export {
  CliError,
  type CliErrorCode,
  type DescribedError,
  describeError,
  EXIT_CODES,
  type ExitCode,
} from './errors.ts';
export { dotToSvg, toDot } from './graphviz.ts';
export { createOutput, type Output, type Progress } from './output.ts';
export { buildProgram, type CliIO, runCli } from './program.ts';
export { parseQuestions, type Question, readQuestions } from './questions.ts';
