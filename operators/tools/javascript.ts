/**
 * A sandboxed JavaScript evaluator for the deliberation pattern's tool-caller (the paper's
 * "Python sandbox", in the language we run). Each call gets a fresh `node:vm` context with no
 * `require`, `process`, `import()` or host objects; the run is bounded in time and in output.
 *
 * Why the care below: a context object handed to the host can run user code when the host
 * touches it (a getter, a patched prototype), outside the time limit. So nothing of the context
 * crosses over except one JSON string, produced inside the context, under the time limit.
 *
 * Not a security boundary against hostile code: `node:vm` does not limit memory (a huge
 * allocation can take the process down) and shares the process. Run untrusted code in a worker
 * or another process as well.
 */
import vm from 'node:vm';
import type { Tool } from './tool.ts';
import { checkOption } from './tool.ts';
import { ToolError } from './toolError.ts';

export interface JavaScriptOptions {
  /** Time limit of the code's run (its promise callbacks included), and of rendering its result. Default 1000. */
  timeoutMs?: number;
  /** Limit on printed output plus the rendered value, in characters. Default 10000. */
  maxOutputChars?: number;
}

export interface JavaScriptResult {
  /** What the code printed with `console.log` (or info, warn, error, debug), one line per call. */
  output: string;
  /** The completion value, as a REPL would show it; undefined when there is none. */
  value: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_MAX_OUTPUT_CHARS = 10_000;

/**
 * Runs inside the context before the user's code: captures the intrinsics it needs (so that
 * patched prototypes cannot change it), installs `console`, and defines the two entry points.
 */
const BOOTSTRAP = `'use strict';
(() => {
  const G = globalThis;
  const apply = Reflect.apply;
  const push = Array.prototype.push;
  const stringify = JSON.stringify;
  const toText = String;
  const ErrorClass = Error;
  const define = Object.defineProperty;
  const evaluate = G.eval;
  const limit = __LIMIT__;
  const lines = [];
  let size = 0;
  let overflow = false;
  let value;
  let failure;
  class OutputLimit extends ErrorClass {}
  const show = (v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return toText(v) + 'n';
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
    if (typeof v === 'symbol' || typeof v !== 'object' || v === null) return toText(v);
    if (v instanceof ErrorClass) return toText(v.name) + ': ' + toText(v.message);
    try {
      const json = stringify(v);
      if (json !== undefined) return json;
    } catch {}
    try { return toText(v); } catch { return '[object]'; }
  };
  const spend = (text) => {
    size += text.length + 1;
    if (size > limit) {
      overflow = true;
      throw new OutputLimit('output limit reached');
    }
  };
  const write = (...args) => {
    if (overflow) throw new OutputLimit('output limit reached');
    let line = '';
    for (let i = 0; i < args.length; i++) line += (i > 0 ? ' ' : '') + show(args[i]);
    spend(line);
    apply(push, lines, [line]);
  };
  G.console = { log: write, info: write, warn: write, error: write, debug: write };
  define(G, '__rmas_run', {
    value: (source) => {
      try {
        const result = evaluate(source);
        if (result !== undefined) {
          value = show(result);
          spend(value);
        }
      } catch (error) {
        try {
          failure = error instanceof OutputLimit
            ? 'output'
            : toText(error instanceof ErrorClass ? error.name + ': ' + error.message : 'uncaught ' + show(error));
        } catch {
          failure = 'an exception that cannot be shown';
        }
      }
    },
  });
  define(G, '__rmas_report', {
    value: () => stringify({ lines, value: overflow ? undefined : value, overflow, failure }),
  });
})();`;

/**
 * Evaluates JavaScript in a fresh sandbox and returns what it printed and its completion value.
 * Throws a `ToolError`: TOOL_SYNTAX, TOOL_RUNTIME (with the output printed before the throw),
 * TOOL_TIMEOUT, TOOL_OUTPUT_LIMIT, or TOOL_INVALID_INPUT.
 * @example evaluateJavaScript('console.log(6 * 7); [1, 2].length') // { output: '42', value: '2' }
 */
export function evaluateJavaScript(code: string, options: JavaScriptOptions = {}): JavaScriptResult {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutputChars = options.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
  checkOption('javascript', 'timeoutMs', timeoutMs, 1);
  checkOption('javascript', 'maxOutputChars', maxOutputChars, 1);
  if (typeof code !== 'string') {
    throw new ToolError('TOOL_INVALID_INPUT', `javascript: the code must be a string, got ${typeof code}`);
  }
  try {
    // Parse only (nothing runs), to tell syntax errors from a thrown SyntaxError.
    new vm.Script(code, { filename: 'tool.js' });
  } catch (error) {
    throw new ToolError('TOOL_SYNTAX', `javascript: the code does not parse: ${(error as Error).message}`);
  }
  // A sandbox with no prototype: a plain `{}` would lend the context the host's Object, and through
  // `this.constructor.constructor` the host's Function (and `process`).
  const context = vm.createContext(Object.create(null), {
    name: 'rmas javascript tool',
    codeGeneration: { strings: true, wasm: false },
    microtaskMode: 'afterEvaluate',
  });
  const run = (source: string): unknown => {
    try {
      return new vm.Script(source).runInContext(context, { timeout: timeoutMs });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        throw new ToolError('TOOL_TIMEOUT', `javascript: the code ran longer than ${timeoutMs} ms`);
      }
      throw new ToolError('TOOL_RUNTIME', 'javascript: the sandbox failed to run the code');
    }
  };
  run(BOOTSTRAP.replace('__LIMIT__', String(Math.floor(maxOutputChars))));
  run(`__rmas_run(${JSON.stringify(code)})`);
  const report = run('__rmas_report()');
  const parsed = typeof report === 'string' ? (JSON.parse(report) as Partial<Report>) : {};
  const output = Array.isArray(parsed.lines) ? parsed.lines.map(String).join('\n') : '';
  if (parsed.overflow === true || parsed.failure === 'output') {
    throw new ToolError('TOOL_OUTPUT_LIMIT', `javascript: the output exceeded ${maxOutputChars} characters`);
  }
  if (typeof parsed.failure === 'string') {
    throw new ToolError('TOOL_RUNTIME', `javascript: ${parsed.failure}`, { output });
  }
  return { output, value: typeof parsed.value === 'string' ? parsed.value : undefined };
}

interface Report {
  lines: string[];
  value: string | undefined;
  overflow: boolean;
  failure: string | undefined;
}

/**
 * The evaluator as a tool: the model writes `<javascript>code</javascript>` and reads back the
 * printed lines and `=> value`, or the error (its code's errors are observations, not failures).
 * @example const observation = await javascriptTool({ timeoutMs: 500 }).run('2 ** 10'); // '=> 1024'
 */
export function javascriptTool(options: JavaScriptOptions = {}): Tool {
  return {
    name: 'javascript',
    description: '<javascript>code</javascript> runs JavaScript (no I/O) and shows what it prints and its value',
    async run(input: string): Promise<string> {
      try {
        const { output, value } = evaluateJavaScript(input, options);
        const shown = [output, value === undefined ? '' : `=> ${value}`].filter((part) => part !== '');
        return shown.length > 0 ? shown.join('\n') : '(no output)';
      } catch (error) {
        if (!(error instanceof ToolError) || error.code === 'TOOL_INVALID_INPUT') throw error;
        return [error.output, `Error (${error.code}): ${error.message}`].filter((part) => part !== '').join('\n');
      }
    },
  };
}
