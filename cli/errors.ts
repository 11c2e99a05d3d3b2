/**
 * What the user sees when something goes wrong: one paragraph that says what failed, where (file,
 * field) and what to do next, and an exit code a script can branch on. Stack traces only with
 * `--verbose`.
 *
 * Exit codes (documented in `rmas --help` and the README):
 * - 0: success.
 * - 1: a run failed (a model, tool, broker or benchmark failed, or some answers are errors).
 * - 2: the input is wrong: command line, config file, data file or model folder.
 * - 3: the command exists but its engine is not in this build yet.
 */

export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Stable codes of the errors the CLI itself raises. */
export type CliErrorCode =
  /** Options or arguments that do not fit together. */
  | 'USAGE'
  /** A config file that cannot be read or is not a valid topology. */
  | 'CONFIG'
  /** A data or question file that cannot be read. */
  | 'INPUT'
  /** The command's engine is not part of this build yet. */
  | 'UNAVAILABLE'
  /** The job ran but failed (e.g. a benchmark exited non-zero). */
  | 'FAILED';

const EXIT_OF: Record<CliErrorCode, ExitCode> = {
  USAGE: EXIT_CODES.usage,
  CONFIG: EXIT_CODES.usage,
  INPUT: EXIT_CODES.usage,
  UNAVAILABLE: EXIT_CODES.unavailable,
  FAILED: EXIT_CODES.failure,
};

/**
 * An error of the command line: `message` says what is wrong and where, `hint` what to do next.
 * @example throw new CliError('INPUT', 'questions.jsonl:3: not JSON', { hint: 'one JSON object per line' });
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** Structured details for `--json` (e.g. the topology's issues). */
  readonly details: unknown;

  constructor(
    readonly code: CliErrorCode,
    message: string,
    options: { hint?: string; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = EXIT_OF[code];
  }
}

/** The shape shared by the project's typed errors (duck-typed: no need to load every layer). */
interface TypedError {
  name: string;
  message: string;
  code?: unknown;
  file?: unknown;
  field?: unknown;
  path?: unknown;
  messageType?: unknown;
  issues?: unknown;
  retriable?: unknown;
  stack?: string;
}

export interface DescribedError {
  /** One paragraph (may span lines: issue lists), no stack unless verbose. */
  text: string;
  exitCode: ExitCode;
  /** For `--json`: a stable code and the message. */
  json: { code: string; message: string; hint?: string; details?: unknown };
}

/**
 * Turns anything thrown into the paragraph a user reads and the exit code.
 * @example
 * const { text, exitCode } = describeError(error, { verbose: false });
 * process.stderr.write(`${text}\n`);
 * process.exitCode = exitCode;
 */
export function describeError(error: unknown, options: { verbose: boolean }): DescribedError {
  const e: TypedError =
    error instanceof Error ? error : { name: 'Error', message: String(error), stack: undefined };
  const code = typeof e.code === 'string' ? e.code : 'INTERNAL';
  const { headline, hint, exitCode } = explain(e, code);
  const lines = [`rmas: ${headline}`];
  if (hint !== undefined) lines.push(`  → ${hint}`);
  if (options.verbose) {
    if (e.stack !== undefined) lines.push('', e.stack);
    let cause = (error as { cause?: unknown } | null)?.cause;
    while (cause instanceof Error) {
      lines.push('', `caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
  } else if (exitCode === EXIT_CODES.failure && code === 'INTERNAL' && e.name !== 'CliError') {
    lines.push('  (rerun with --verbose for the stack trace)');
  }
  return {
    text: lines.join('\n'),
    exitCode,
    json: {
      code,
      message: headline,
      ...(hint !== undefined ? { hint } : {}),
      ...(error instanceof CliError && error.details !== undefined
        ? { details: error.details }
        : {}),
    },
  };
}

interface Explanation {
  headline: string;
  hint?: string;
  exitCode: ExitCode;
}

function explain(e: TypedError, code: string): Explanation {
  switch (e.name) {
    case 'CliError':
      return {
        headline: e.message,
        ...(typeof (e as CliError).hint === 'string' ? { hint: (e as CliError).hint } : {}),
        exitCode: (e as CliError).exitCode ?? EXIT_CODES.usage,
      };
    case 'TopologyError':
      return {
        headline: e.message,
        hint: 'fix the fields listed (paths are inside the topology), then check with `rmas inspect <config>`',
        exitCode: EXIT_CODES.usage,
      };
    case 'ModelError':
      return explainModelError(e, code);
    case 'TaskFormatError':
      return {
        headline: `bad task record: ${e.message}`,
        hint: 'each line is one JSON object with at least "question" and "answer" (format: bench/tasks/README.md)',
        exitCode: EXIT_CODES.usage,
      };
    case 'RuntimeError':
      return explainRuntimeError(e, code);
    case 'TrainError':
      return {
        headline: `training failed [${code}]: ${e.message}`,
        hint:
          code === 'NON_FINITE_LOSS'
            ? 'lower the learning rate (--lr) or clip harder; check the data for empty targets'
            : code === 'EMPTY_DATASET'
              ? 'the data file has no example for this agent: add lines with its "agent" name'
              : 'check the training options and the data file',
        exitCode: code === 'NON_FINITE_LOSS' ? EXIT_CODES.failure : EXIT_CODES.usage,
      };
    case 'ToolError':
      return {
        headline: `a tool failed [${code}]: ${e.message}`,
        hint: 'a tool error inside a run becomes part of the answer; outside one, check the tool input',
        exitCode: EXIT_CODES.failure,
      };
    case 'OperatorError':
      return {
        headline: `operator error [${code}]: ${e.message}`,
        hint: code.startsWith('LINK_')
          ? 'the links do not fit this topology: retrain them with `rmas train`, or drop --links to start from fresh ones'
          : 'check that every agent hidden size in the config matches its model',
        exitCode: EXIT_CODES.failure,
      };
    case 'WireError':
      return {
        headline: `bad ${String(e.messageType ?? 'message')}${e.path ? ` at ${String(e.path)}` : ''} [${code}]: ${e.message}`,
        hint: 'the record goes to the dead-letter topic; fix the producer that wrote it',
        exitCode: EXIT_CODES.usage,
      };
    case 'KafkaConnectorError':
      return {
        headline: `Kafka connector failed [${code}]: ${e.message}`,
        hint:
          e.retriable === true
            ? 'this can pass: check that the broker is reachable (--brokers, KAFKA_BROKERS) and retry'
            : code === 'producer_fenced'
              ? 'another worker took over this transactional id: stop this one or give it its own id'
              : 'check the broker and the topic settings',
        exitCode: EXIT_CODES.failure,
      };
    case 'DistributedError':
      return {
        headline: `distributed mode cannot run this [${code}]: ${e.message}`,
        hint:
          code === 'unknown_agent'
            ? 'pass --agent with one of the agents of the config'
            : code === 'invalid_topic_name'
              ? 'topic names take letters, digits, ".", "_" and "-": rename the topology or its agents, or change --topic-prefix'
              : 'check the options against `rmas worker --help`',
        exitCode: EXIT_CODES.usage,
      };
    default:
      break;
  }
  if (e.name.startsWith('KafkaJS')) {
    return {
      headline: `Kafka: ${e.message}`,
      hint: 'is the broker running and reachable? point --brokers (or KAFKA_BROKERS) at it; --verbose shows the client log',
      exitCode: EXIT_CODES.failure,
    };
  }
  if (e.name.endsWith('BackendError') || code.startsWith('BACKEND_')) {
    return {
      headline: `tensor backend: ${e.message}`,
      hint: 'set RMAS_BACKEND=wasm or RMAS_BACKEND=cpu (or unset it) and retry',
      exitCode: EXIT_CODES.usage,
    };
  }
  return explainSystemError(e, code);
}

function explainModelError(e: TypedError, code: string): Explanation {
  const hints: Record<string, string> = {
    MISSING_FILE:
      'a model folder needs config.json, tokenizer.json and model.safetensors (or its shards); check the model path in the config',
    INVALID_JSON: 'the file is not valid JSON: re-download or re-save it',
    INVALID_CONFIG: 'the model config.json lacks or mistypes this field',
    UNSUPPORTED_ARCHITECTURE:
      'rmas runs Llama, Qwen2 and Qwen3 decoders; pick a model of one of these families',
    UNSUPPORTED_DTYPE: 'save the weights as float32, float16 or bfloat16 safetensors',
    UNSUPPORTED_FEATURE:
      'this model uses a feature rmas does not implement; pick another checkpoint',
    INVALID_SAFETENSORS: 'the weights file is damaged or truncated: re-download it',
    MISSING_WEIGHT:
      'the weights do not match config.json (another model size?): re-download the folder',
    SHAPE_MISMATCH:
      'the weights do not match config.json (another model size?): re-download the folder',
    UNKNOWN_PRESET: 'use one of the preset names listed, or a local folder path (containing a "/")',
  };
  return {
    headline: `cannot load the model [${code}]: ${e.message}`,
    ...(hints[code] !== undefined ? { hint: hints[code] } : {}),
    exitCode: code === 'INVALID_INPUT' ? EXIT_CODES.failure : EXIT_CODES.usage,
  };
}

function explainRuntimeError(e: TypedError, code: string): Explanation {
  const hints: Record<string, [string, ExitCode]> = {
    INVALID_TOPOLOGY: [
      'check the topology with `rmas inspect <config>` and fix the fields it lists',
      EXIT_CODES.usage,
    ],
    AGENT_MISMATCH: [
      "set the agent's hiddenSize to its model's hidden_size (config.json of the folder)",
      EXIT_CODES.usage,
    ],
    LINK_MISMATCH: [
      'the links folder was saved for another topology: retrain with `rmas train`, or drop --links',
      EXIT_CODES.usage,
    ],
    UNKNOWN_MODEL: [
      'use a preset name, or a path to a local Hugging Face folder (containing a "/")',
      EXIT_CODES.usage,
    ],
    UNKNOWN_TOOL: ['the tools rmas provides are "javascript" and "search"', EXIT_CODES.usage],
    INVALID_OPTIONS: [
      'check the run options (flags or the config file\'s "run" section)',
      EXIT_CODES.usage,
    ],
    INVALID_REQUEST: ['each question needs a non-empty id and a text', EXIT_CODES.usage],
  };
  const [hint, exitCode] = hints[code] ?? [undefined, EXIT_CODES.failure];
  return {
    headline: `run failed [${code}]: ${e.message}`,
    ...(hint !== undefined ? { hint } : {}),
    exitCode,
  };
}

function explainSystemError(e: TypedError, code: string): Explanation {
  const where = (e as { path?: unknown }).path;
  const file = typeof where === 'string' ? where : undefined;
  switch (code) {
    case 'ENOENT':
      return {
        headline: `no such file or folder: ${file ?? e.message}`,
        hint: 'check the path (relative paths start from the current directory)',
        exitCode: EXIT_CODES.usage,
      };
    case 'EACCES':
    case 'EPERM':
      return {
        headline: `permission denied: ${file ?? e.message}`,
        hint: 'choose a location you can read and write',
        exitCode: EXIT_CODES.usage,
      };
    case 'EISDIR':
      return {
        headline: `expected a file, got a folder: ${file ?? e.message}`,
        exitCode: EXIT_CODES.usage,
      };
    case 'ECONNREFUSED':
      return {
        headline: `connection refused: ${e.message}`,
        hint: 'is the Kafka broker running? point --brokers (or KAFKA_BROKERS) at it',
        exitCode: EXIT_CODES.failure,
      };
    default:
      return {
        headline: `unexpected error${code !== 'INTERNAL' ? ` [${code}]` : ''}: ${e.message}`,
        hint: 'if this looks like a bug in rmas, report it with the output of --verbose',
        exitCode: EXIT_CODES.failure,
      };
  }
}
