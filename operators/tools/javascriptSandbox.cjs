// Runs in a worker thread (see javascript.ts): evaluates one piece of code in a fresh node:vm
// context and posts one message back. Plain CommonJS so that it needs no TypeScript loader.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const vm = require('node:vm');

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
  const PromiseClass = Promise;
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
    if (v instanceof PromiseClass) return '[Promise]';
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

const { code, timeoutMs, maxOutputChars } = workerData;
// Promises the code rejected and never handled: a fire-and-forget error, as in a script. This
// worker's own process object, so the host is not affected; never touch `reason` (user code).
process.on('unhandledRejection', () => {});
// A sandbox with no prototype: a plain `{}` would lend the context this realm's Object, and
// through `this.constructor.constructor` its Function (and `process`).
const context = vm.createContext(Object.create(null), {
  name: 'rmas javascript tool',
  codeGeneration: { strings: true, wasm: false },
  microtaskMode: 'afterEvaluate',
});
const run = (source) => new vm.Script(source).runInContext(context, { timeout: timeoutMs });
try {
  run(BOOTSTRAP.replace('__LIMIT__', String(Math.floor(maxOutputChars))));
  run(`__rmas_run(${JSON.stringify(code)})`);
  const report = run('__rmas_report()');
  parentPort.postMessage({ report: typeof report === 'string' ? report : '{}' });
} catch (error) {
  // Only the host's own errors reach here (the user's are caught inside the context).
  const timeout =
    error !== null && typeof error === 'object' && error.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
  parentPort.postMessage({ timeout });
}
