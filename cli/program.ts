/**
 * The `rmas` command line (commander): eight commands, each with examples in its `--help`, shared
 * `--json` and `--verbose`, and one error path that turns anything thrown into a paragraph the
 * user can act on and a documented exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { bench } from './commands/bench.ts';
import { submit, topics, worker } from './commands/distributed.ts';
import { inspect } from './commands/inspect.ts';
import { run } from './commands/run.ts';
import { evaluate, quickTable } from './commands/table2.ts';
import { TRAIN_LOOPS, train } from './commands/train.ts';
import { CliError, describeError, EXIT_CODES, type ExitCode } from './errors.ts';
import { createOutput, type Output } from './output.ts';

export interface CliIO {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream | NodeJS.WritableStream;
}

const EXIT_HELP = `
Exit codes:
  0  success
  1  a run failed (a model, tool, broker or benchmark failed, or some answers are errors)
  2  wrong input: command line, config file, data file or model folder
  3  the command's engine is not in this build yet

Config files are topology IRs as JSON or YAML (examples in cli/examples/), optionally wrapped as
{ topology, run: { mode, links, seed, maxBatchSize } }. See the README, "Command line".`;

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a number > 0, got ${JSON.stringify(value)}`);
  }
  return n;
}

function roundsList(value: string): number[] {
  const rounds = value.split(',').map((part) => Number(part.trim()));
  if (rounds.some((r) => !Number.isInteger(r) || r < 1)) {
    throw new InvalidArgumentError(
      `expected integers >= 1 separated by commas, got ${JSON.stringify(value)}`,
    );
  }
  return rounds;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `--brokers`, defaulting to $KAFKA_BROKERS (read when the program is built, so tests can set it),
 * else 127.0.0.1:9092. The help shows the default once, as that rule.
 */
const brokersOption = () =>
  new Option('--brokers <list>', 'Kafka brokers, comma-separated').default(
    process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
    '$KAFKA_BROKERS, else 127.0.0.1:9092',
  );

const modeOption = () =>
  new Option('--mode <mode>', 'latent (RecursiveMAS) or text (Recursive-TextMAS)').choices([
    'latent',
    'text',
  ]);

/**
 * Builds the program. `setExit` receives the exit code of the command that ran.
 * @example await buildProgram(io, (code) => { process.exitCode = code; }).parseAsync(process.argv);
 */
export function buildProgram(io: CliIO, setExit: (code: ExitCode) => void): Command {
  const program = new Command('rmas');
  const output = (command: Command): Output => {
    const { json, verbose } = command.optsWithGlobals<{ json?: boolean; verbose?: boolean }>();
    return createOutput({ json: json === true, verbose: verbose === true, ...io });
  };

  program
    .description(
      'RecursiveMAS: multi-agent LLM systems whose agents collaborate through embeddings, run as RxJS stream pipelines.',
    )
    .version('0.1.0', '-V, --version')
    .option('--json', 'machine output: one JSON document on stdout; no progress bars')
    .option('--verbose', 'details on stderr, and stack traces on errors')
    .showHelpAfterError('(add --help for usage and examples)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `\nExamples:\n  rmas inspect cli/examples/sequential.yaml\n  rmas run --question "What is 12 * 7?"\n  npm start            # rmas run --quick: the efficiency table on the shipped agents\n${EXIT_HELP}`,
    );

  program
    .command('run')
    .description('run a topology over questions and print the answers and their usage')
    .argument(
      '[config]',
      'topology (JSON or YAML); default the shipped system (bench/agents), else cli/examples/sequential.yaml',
    )
    .option('-q, --question <text>', 'a question (repeatable)', collect)
    .option(
      '-i, --input <file>',
      'questions: JSONL ({"id", "question"} per line) or one per line; - for stdin',
    )
    .addOption(modeOption())
    .option('--links <dir>', 'trained links (from rmas train --out); default fresh links')
    .option('--seed <n>', 'seed of fresh links and of untrained presets', integer(0))
    .option('--batch-size <n>', 'requests per batched model call', integer(1))
    .option('--rounds <n>', 'override the recursion rounds', integer(1))
    .option('--max-new-tokens <n>', 'override the answer length limit', integer(1))
    .option('--usage', "print every agent's usage in every round")
    .option(
      '--quick',
      'the main job (npm start): the efficiency table on the shipped agents, short',
    )
    .option('--limit <n>', 'with --quick: questions per task family (default 8)', integer(1))
    .option(
      '--repetitions <n>',
      'with --quick: timed passes, the median is reported (default 3)',
      integer(1),
    )
    .addHelpText(
      'after',
      `
Examples:
  rmas run --question "What is 12 * 7?"
  rmas run cli/examples/mixture.json --input cli/examples/questions.jsonl --usage
  rmas run cli/examples/sequential.yaml --mode text -q "2 + 2?" --json
  echo "What is 3 + 4?" | rmas run --rounds 1
  rmas run --quick                      # what npm start runs
  rmas run --quick --limit 2 --repetitions 1 --rounds 3`,
    )
    .action(async (config: string | undefined, options, command: Command) => {
      const out = output(command);
      if (options.quick) {
        const { question, input, mode, links, seed, usage, maxNewTokens } = options;
        const stray = Object.entries({ question, input, mode, links, seed, usage, maxNewTokens })
          .filter(([, value]) => value !== undefined)
          .map(([name]) => `--${kebab(name)}`);
        if (config !== undefined) stray.unshift('a config');
        if (stray.length > 0) {
          throw new CliError('USAGE', `--quick runs the shipped table; it takes no ${stray[0]}`, {
            hint: 'rmas run --quick [--limit n] [--repetitions n] [--rounds n] [--batch-size n]; for your own data: rmas eval --data my.jsonl',
          });
        }
        await quickTable(
          {
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
            ...(options.repetitions !== undefined ? { repetitions: options.repetitions } : {}),
            ...(options.rounds !== undefined ? { rounds: [options.rounds] } : {}),
            ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
          },
          out,
        );
        return;
      }
      if (options.limit !== undefined || options.repetitions !== undefined) {
        throw new CliError('USAGE', '--limit and --repetitions only apply with --quick', {
          hint: 'to answer fewer questions, pass a shorter --input file',
        });
      }
      setExit(await run(config, options, out));
    });

  program
    .command('eval')
    .description(
      'the efficiency table (single agent, TextMAS, RecursiveMAS at r = 1, 2, 3) on your data',
    )
    .requiredOption('--data <file>', 'JSONL with one {"question", "answer"} per line')
    .option('--limit <n>', 'use only the first n questions', integer(1))
    .option('--repetitions <n>', 'timed passes; the median is reported', integer(1), 3)
    .option('--rounds <list>', 'recursion depths to compare, e.g. 1,2,3', roundsList, [1, 2, 3])
    .option('--batch-size <n>', 'requests per batched model call, every method', integer(1), 8)
    .option('--weights <dir>', 'your networks: a folder of <preset>/ model folders')
    .option('--links <dir>', 'your links: a folder with a sequential/ subfolder')
    .option('--plot <file>', 'also draw the table as an SVG chart')
    .addHelpText(
      'after',
      `
Examples:
  rmas eval --data my.jsonl
  rmas eval --data bench/tasks/data/test.jsonl --limit 20 --rounds 3 --plot table.svg
  rmas eval --data my.jsonl --weights my-networks --links my-links --json`,
    )
    .action(async (options, command: Command) => {
      await evaluate(options, output(command));
    });

  program
    .command('train')
    .description("train a topology's RecursiveLinks and save them for `rmas run --links`")
    .argument('<config>', 'topology (JSON or YAML)')
    .requiredOption(
      '--data <file>',
      'inner: role texts {"agent", "prompt", "target"} per line; outer: {"question", "answer"} per line',
    )
    .addOption(new Option('--loop <loop>', 'which loop').choices([...TRAIN_LOOPS]).default('inner'))
    .option('--steps <n>', 'optimizer steps per link', integer(1), 100)
    .option('--batch-size <n>', 'examples per step', integer(1), 4)
    .option(
      '--lr <rate>',
      'peak learning rate (default 5e-4, the official setting)',
      positiveNumber,
    )
    .option('--seed <n>', 'seed of the data order and the fresh links', integer(0), 1)
    .option('--rounds <n>', 'override the recursion rounds the outer loop unrolls', integer(1))
    .option('--out <dir>', 'where to save the links', 'links')
    .option(
      '--from <dir>',
      "start from these links (e.g. the inner loop's --out); default fresh links",
    )
    .option('--plot <file>', 'loss curves SVG (default <out>/loss.svg)')
    .addHelpText(
      'after',
      `
Examples:
  rmas train cli/examples/sequential.yaml --data bench/tasks/data/knowledge.jsonl --steps 20 --out links
  rmas train cli/examples/sequential.yaml --loop outer --from links --data bench/tasks/data/train.jsonl --steps 20 --out links
  rmas run cli/examples/sequential.yaml --links links -q "recall age"`,
    )
    .action(async (config: string, options, command: Command) => {
      await train(config, options, output(command));
    });

  program
    .command('bench')
    .description('run benchmarks (the runner of `npm run bench`) and summarise their targets')
    .argument('[names...]', 'benchmarks (bench/<name>.ts); default all')
    .option('--list', 'list the benchmarks and when they last ran')
    .option('--plot <file>', 'draw every target (measured / target) as an SVG bar chart')
    .option('--results-only', 'do not run: summarise (and plot) the result files already there')
    .addHelpText(
      'after',
      `
Examples:
  rmas bench --list
  rmas bench latent
  rmas bench --results-only --plot targets.svg`,
    )
    .action(async (names: string[], options, command: Command) => {
      await bench(names, options, output(command));
    });

  program
    .command('topics')
    .description("list a distributed topology's Kafka topics; --create makes the missing ones")
    .argument('<config>', 'topology (JSON or YAML), the file the workers run')
    .addOption(brokersOption())
    .option(
      '--create <partitions>',
      'create the missing topics, each with this many partitions (at least the most workers of one agent)',
      integer(1),
    )
    .option('--topic-prefix <prefix>', 'topics are <prefix>.<topology>.… (default rmas)')
    .addHelpText(
      'after',
      `
Examples:
  rmas topics cli/examples/sequential.yaml
  rmas topics cli/examples/sequential.yaml --create 8 --brokers 127.0.0.1:9092

A topology named sequential uses rmas.sequential.requests, rmas.sequential.<agent>.in for each
agent, rmas.sequential.answers and rmas.sequential.dead-letters. Topics that exist are left as
they are.`,
    )
    .action(async (config: string, options, command: Command) => {
      setExit(await topics(config, options, output(command)));
    });

  program
    .command('worker')
    .description('serve one agent of a topology as a Kafka worker (distributed mode)')
    .argument('<config>', 'topology (JSON or YAML), the same file for every worker')
    .requiredOption('--agent <name>', 'which agent this worker runs')
    .addOption(brokersOption())
    .option(
      '--group <id>',
      'consumer group: workers of one agent share it (default <topic prefix>.<topology>.<agent>, e.g. rmas.sequential.planner)',
    )
    .option('--links <dir>', 'trained links (from rmas train --out); default fresh links')
    .option('--seed <n>', 'seed of fresh links and of untrained presets', integer(0))
    .option('--batch-size <n>', 'most requests in one stage pass (default 64)', integer(1))
    .option('--exactly-once', 'Kafka transactions: each request answered exactly once')
    .option(
      '--instance <id>',
      "with --exactly-once: this worker's stable slot (default the host name)",
    )
    .option('--topic-prefix <prefix>', 'topics are <prefix>.<topology>.… (default rmas)')
    .option(
      '--create-topics <partitions>',
      "create the topology's missing topics first",
      integer(1),
    )
    .option(
      '--idle-exit-ms <ms>',
      'stop (drain, commit, exit 0) after this long without work once in the group; default: run until stopped',
      integer(1),
    )
    .addHelpText(
      'after',
      `
Examples:
  rmas worker cli/examples/sequential.yaml --agent planner --create-topics 3
  rmas worker cli/examples/sequential.yaml --agent critic --brokers 127.0.0.1:9092
  rmas worker cli/examples/sequential.yaml --agent solver --exactly-once --instance solver-1
  rmas worker cli/examples/sequential.yaml --agent critic --idle-exit-ms 5000   # a bounded run

Every agent needs at least one worker; more workers of one agent share its load (up to the
partitions of its inbox). Ctrl-C (SIGINT) or SIGTERM drains the work in flight, then stops.`,
    )
    .action(async (config: string, options, command: Command) => {
      await worker(config, options, output(command));
    });

  program
    .command('submit')
    .description('send questions to a distributed topology and print the answers')
    .argument('<config>', 'topology (JSON or YAML), the file the workers run')
    .addOption(brokersOption())
    .option('-q, --question <text>', 'a question (repeatable)', collect)
    .option('-i, --input <file>', 'questions file (JSONL or one per line); - for stdin')
    .option('--no-wait', 'send and exit without waiting for the answers')
    .option('--timeout-ms <ms>', 'how long to wait for the answers', integer(1), 60_000)
    .option('--topic-prefix <prefix>', 'topics are <prefix>.<topology>.… (default rmas)')
    .option(
      '--create-topics <partitions>',
      "create the topology's missing topics first",
      integer(1),
    )
    .option('--usage', "print every agent's usage in every round")
    .addHelpText(
      'after',
      `
Examples:
  rmas submit cli/examples/sequential.yaml -q "What is 12 * 7?"
  rmas submit cli/examples/sequential.yaml --input cli/examples/questions.jsonl --json
  rmas submit cli/examples/sequential.yaml --input big.jsonl --no-wait

On Kafka a question's request id is <id>@<submission> (a fresh submission tag each time, since
workers skip a request id they have handled); answers are printed under the question's id.`,
    )
    .action(async (config: string, options, command: Command) => {
      setExit(await submit(config, options, output(command)));
    });

  program
    .command('inspect')
    .description(
      'check a topology, draw it (Mermaid text and an SVG) and report its differentiability',
    )
    .argument('<config>', 'topology (JSON or YAML)')
    .option('--svg <file>', 'where to write the SVG (default <config name>.svg here)')
    .option('--no-svg', 'do not write an SVG')
    .option('--dot', 'also write the Graphviz source next to the SVG')
    .addOption(modeOption())
    .addHelpText(
      'after',
      `
Examples:
  rmas inspect cli/examples/sequential.yaml
  rmas inspect cli/examples/mixture.json --svg mixture.svg --mode text
  rmas inspect my-topology.yaml --no-svg --json`,
    )
    .action(async (config: string, options, command: Command) => {
      await inspect(config, options, output(command));
    });

  return program;
}

/**
 * Runs the command line and returns its exit code (never throws, never calls process.exit).
 * @example process.exitCode = await runCli(process.argv);
 */
export async function runCli(argv: readonly string[], io: CliIO = {}): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT_CODES.ok;
  const stderr = io.stderr ?? process.stderr;
  const stdout = io.stdout ?? process.stdout;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  program.exitOverride();
  program.configureOutput({
    writeOut: (text) => stdout.write(text),
    writeErr: (text) => stderr.write(text),
  });
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
    });
  }
  const json = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with code 0; commander has already printed usage errors.
      if (error.exitCode === 0) return EXIT_CODES.ok;
      if (json)
        stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message: error.message } })}\n`);
      return EXIT_CODES.usage;
    }
    const described = describeError(error, { verbose });
    if (json) stdout.write(`${JSON.stringify({ error: described.json })}\n`);
    stderr.write(`${described.text}\n`);
    return described.exitCode;
  }
}
