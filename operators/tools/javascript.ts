/**
 * A sandboxed JavaScript evaluator for the deliberation pattern's tool-caller (the paper's
 * "Python sandbox", in the language we run). Each call evaluates the code in a fresh `node:vm`
 * context (no `require`, `process`, `import()` or host objects), inside a worker thread of its own,
 * bounded in time, output and memory.
 *
 * Why a worker around the context: an unhandled promise rejection inside a vm context is reported
 * to the whole process and would crash it (`Promise.reject()` is enough), and vm bounds neither
 * memory nor code that escapes its timeout. A worker dies alone; the caller gets a typed error.
 * Why the care inside (javascriptSandbox.cjs): a context object handed out can run user code when
 * touched (a getter, a patched prototype), so only one JSON string produced inside the context,
 * under the time limit, ever crosses over.
 */
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import type { Tool } from './tool.ts';
import { checkOption } from './tool.ts';
import { ToolError } from './toolError.ts';

export interface JavaScriptOptions {
  /** Time limit of the code's run (promise callbacks included), and of rendering its result. Default 1000. */
  timeoutMs?: number;
  /** Limit on printed output plus the rendered value, in characters. Default 10000. */
  maxOutputChars?: number;
  /** Heap limit of the sandbox's worker, in MB. Default 64. */
  maxMemoryMb?: number;
}

export interface JavaScriptResult {
  /** What the code printed with `console.log` (or info, warn, error, debug), one line per call. */
  output: string;
  /** The completion value, as a REPL would show it; undefined when there is none. */
  value: string | undefined;
}

const DEFAULTS = { timeoutMs: 1000, maxOutputChars: 10_000, maxMemoryMb: 64 };
/** Worker start-up and teardown, on top of the code's own time limit, before the watchdog fires. */
const WATCHDOG_SLACK_MS = 5000;
const SANDBOX = new URL('./javascriptSandbox.cjs', import.meta.url);

interface SandboxMessage {
  report?: string;
  timeout?: boolean;
}

interface Report {
  lines: unknown;
  value: unknown;
  overflow: unknown;
  failure: unknown;
}

/**
 * Evaluates JavaScript in a fresh sandbox; resolves with what it printed and its completion value.
 * Rejects with a `ToolError`: TOOL_SYNTAX, TOOL_RUNTIME (with the output printed before the
 * throw), TOOL_TIMEOUT, TOOL_OUTPUT_LIMIT, TOOL_MEMORY_LIMIT or TOOL_INVALID_INPUT.
 * @example await evaluateJavaScript('console.log(6 * 7); [1, 2].length') // { output: '42', value: '2' }
 */
export async function evaluateJavaScript(
  code: string,
  options: JavaScriptOptions = {},
): Promise<JavaScriptResult> {
  const { timeoutMs, maxOutputChars, maxMemoryMb } = { ...DEFAULTS, ...options };
  checkOption('javascript', 'timeoutMs', timeoutMs, 1);
  checkOption('javascript', 'maxOutputChars', maxOutputChars, 1);
  checkOption('javascript', 'maxMemoryMb', maxMemoryMb, 8);
  if (typeof code !== 'string') {
    throw new ToolError(
      'TOOL_INVALID_INPUT',
      `javascript: the code must be a string, got ${typeof code}`,
    );
  }
  try {
    // Parse only (nothing runs): tells a syntax error from a thrown SyntaxError, and saves a worker.
    new vm.Script(code, { filename: 'tool.js' });
  } catch (error) {
    throw new ToolError(
      'TOOL_SYNTAX',
      `javascript: the code does not parse: ${(error as Error).message}`,
    );
  }
  const message = await runInWorker(code, timeoutMs, maxOutputChars, maxMemoryMb);
  if (message.timeout === true || message.report === undefined) {
    throw new ToolError('TOOL_TIMEOUT', `javascript: the code ran longer than ${timeoutMs} ms`);
  }
  const report = JSON.parse(message.report) as Partial<Report>;
  const output = Array.isArray(report.lines) ? report.lines.map(String).join('\n') : '';
  if (report.overflow === true || report.failure === 'output') {
    throw new ToolError(
      'TOOL_OUTPUT_LIMIT',
      `javascript: the output exceeded ${maxOutputChars} characters`,
    );
  }
  if (typeof report.failure === 'string') {
    throw new ToolError('TOOL_RUNTIME', `javascript: ${report.failure}`, { output });
  }
  return { output, value: typeof report.value === 'string' ? report.value : undefined };
}

function runInWorker(
  code: string,
  timeoutMs: number,
  maxOutputChars: number,
  maxMemoryMb: number,
): Promise<SandboxMessage> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SANDBOX, {
      workerData: { code, timeoutMs, maxOutputChars },
      resourceLimits: {
        maxOldGenerationSizeMb: maxMemoryMb,
        maxYoungGenerationSizeMb: Math.min(16, maxMemoryMb / 2),
      },
      env: {},
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(watchdog);
      outcome();
      // The sandbox may still hold an unhandled rejection that would end it anyway.
      void worker.terminate();
    };
    const watchdog = setTimeout(
      () => settle(() => resolve({ timeout: true })),
      timeoutMs * 2 + WATCHDOG_SLACK_MS,
    );
    worker.once('message', (message: SandboxMessage) => settle(() => resolve(message)));
    worker.once('error', (error: Error & { code?: string }) =>
      settle(() =>
        reject(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new ToolError(
                'TOOL_MEMORY_LIMIT',
                `javascript: the code used more than ${maxMemoryMb} MB`,
              )
            : new ToolError('TOOL_RUNTIME', `javascript: the sandbox failed: ${error.message}`, {
                cause: error,
              }),
        ),
      ),
    );
    worker.once('exit', () => settle(() => resolve({ timeout: false })));
  });
}

/**
 * The evaluator as a tool: the model writes `<javascript>code</javascript>` and reads back the
 * printed lines and `=> value`, or the error (its code's errors are observations, not failures).
 * @example const observation = await javascriptTool({ timeoutMs: 500 }).run('2 ** 10'); // '=> 1024'
 */
export function javascriptTool(options: JavaScriptOptions = {}): Tool {
  return {
    name: 'javascript',
    description:
      '<javascript>code</javascript> runs JavaScript (no I/O) and shows what it prints and its value',
    async run(input: string): Promise<string> {
      try {
        const { output, value } = await evaluateJavaScript(input, options);
        const shown = [output, value === undefined ? '' : `=> ${value}`].filter(
          (part) => part !== '',
        );
        return shown.length > 0 ? shown.join('\n') : '(no output)';
      } catch (error) {
        if (!(error instanceof ToolError) || error.code === 'TOOL_INVALID_INPUT') throw error;
        return [error.output, `Error (${error.code}): ${error.message}`]
          .filter((part) => part !== '')
          .join('\n');
      }
    },
  };
}
