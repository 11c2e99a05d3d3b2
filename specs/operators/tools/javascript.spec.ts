import { describe, expect, it } from 'vitest';
import {
  evaluateJavaScript,
  findToolCall,
  formatToolResult,
  javascriptTool,
  ToolError,
} from '../../../operators/tools/index.ts';

async function failure(code: string, options = {}): Promise<[string, string, string]> {
  try {
    await evaluateJavaScript(code, options);
  } catch (error) {
    if (error instanceof ToolError) return [error.code, error.message, error.output];
    return ['not a ToolError', String(error), ''];
  }
  return ['no error', '', ''];
}

describe('evaluateJavaScript', () => {
  it('returns what the code printed and its completion value', async () => {
    expect(
      await evaluateJavaScript('console.log(6 * 7, "x"); console.warn([1]); [1, 2].length'),
    ).toEqual({
      output: '42 x\n[1]',
      value: '2',
    });
    expect(await evaluateJavaScript('let a = 1')).toEqual({ output: '', value: undefined });
    expect(await evaluateJavaScript('({ a: 1, b: [true, null] })')).toEqual({
      output: '',
      value: '{"a":1,"b":[true,null]}',
    });
    expect(await evaluateJavaScript('10n ** 20n')).toEqual({
      output: '',
      value: '100000000000000000000n',
    });
  });

  it('gives the code no require, process, module, timers or host objects', async () => {
    const probe = ['require', 'process', 'module', 'setTimeout', 'Buffer', 'fetch']
      .map((name) => `typeof ${name}`)
      .join(' + " " + ');
    expect((await evaluateJavaScript(probe)).value).toBe(
      'undefined undefined undefined undefined undefined undefined',
    );
    // The classic escapes reach only the context's own Function, which has no process either.
    for (const attempt of [
      'this.constructor.constructor("return typeof process")()',
      'console.log.constructor("return typeof process")()',
      '(() => {}).constructor("return typeof globalThis.process")()',
    ]) {
      expect((await evaluateJavaScript(attempt)).value).toBe('undefined');
    }
    expect((await evaluateJavaScript('import("node:fs")')).value).toBe('[Promise]');
  });

  it('starts from a fresh context every call', async () => {
    await evaluateJavaScript('globalThis.leak = 1; Array.prototype.evil = 1');
    expect((await evaluateJavaScript('typeof leak + " " + typeof [].evil')).value).toBe(
      'undefined undefined',
    );
  });

  it('reports a syntax error without running anything', async () => {
    expect(await failure('1 +')).toEqual([
      'TOOL_SYNTAX',
      'javascript: the code does not parse: Unexpected end of input',
      '',
    ]);
  });

  it('reports a thrown error with the output printed before it', async () => {
    expect(await failure('console.log("before"); throw new RangeError("too far")')).toEqual([
      'TOOL_RUNTIME',
      'javascript: RangeError: too far',
      'before',
    ]);
    expect((await failure('throw 42'))[1]).toBe('javascript: uncaught 42');
  });

  it('stops code that runs too long, including endless promise chains and hostile getters', async () => {
    const timeout = ['TOOL_TIMEOUT', 'javascript: the code ran longer than 150 ms', ''];
    expect(await failure('while (true) {}', { timeoutMs: 150 })).toEqual(timeout);
    expect(
      await failure(
        'Promise.resolve().then(function f() { return Promise.resolve().then(f); }); 1',
        { timeoutMs: 150 },
      ),
    ).toEqual(timeout);
    expect(await failure('throw { get message() { for (;;) {} } }', { timeoutMs: 150 })).toEqual(
      timeout,
    );
  });

  it('limits output and the rendered value', async () => {
    const limit = ['TOOL_OUTPUT_LIMIT', 'javascript: the output exceeded 100 characters', ''];
    expect(await failure('for (;;) console.log("xxxxxxxxxx")', { maxOutputChars: 100 })).toEqual(
      limit,
    );
    // Catching the limit does not help: every later write fails too.
    expect(
      await failure('for (let i = 0; i < 1e4; i++) try { console.log("xxxxxxxxxx") } catch {}', {
        maxOutputChars: 100,
      }),
    ).toEqual(limit);
    expect(await failure('"y".repeat(101)', { maxOutputChars: 100 })).toEqual(limit);
    expect(
      (await evaluateJavaScript('"y".repeat(99)', { maxOutputChars: 100 })).value,
    ).toHaveLength(99);
  });

  it('is not fooled by patched prototypes', async () => {
    const code =
      'Array.prototype.push = () => { for (;;) {} }; JSON.stringify = () => { for (;;) {} }; console.log("ok"); 7';
    expect(await evaluateJavaScript(code, { timeoutMs: 500 })).toEqual({
      output: 'ok',
      value: '7',
    });
  });

  it('survives unhandled rejections and bounds memory, the host unharmed', async () => {
    expect(
      await evaluateJavaScript('Promise.reject(new Error("x")); (async () => { throw 1; })(); 3'),
    ).toEqual({
      output: '',
      value: '3',
    });
    expect(
      await failure('const a = []; for (;;) a.push(new Array(1e5).fill(1))', {
        maxMemoryMb: 32,
        timeoutMs: 10_000,
      }),
    ).toEqual(['TOOL_MEMORY_LIMIT', 'javascript: the code used more than 32 MB', '']);
    expect((await evaluateJavaScript('1 + 1')).value).toBe('2');
  });

  it('rejects bad options and non-string code', async () => {
    expect((await failure('1', { timeoutMs: 0 }))[0]).toBe('TOOL_INVALID_INPUT');
    expect((await failure(42 as never))[0]).toBe('TOOL_INVALID_INPUT');
  });
});

describe('javascriptTool', () => {
  it('turns results and the code’s errors into observations', async () => {
    const tool = javascriptTool({ timeoutMs: 200 });
    expect(tool.name).toBe('javascript');
    expect(await tool.run('console.log("hi"); 2 ** 10')).toBe('hi\n=> 1024');
    expect(await tool.run('let x = 1')).toBe('(no output)');
    expect(await tool.run('console.log("a"); null.x')).toBe(
      "a\nError (TOOL_RUNTIME): javascript: TypeError: Cannot read properties of null (reading 'x')",
    );
    await expect(tool.run(3 as never)).rejects.toMatchObject({ code: 'TOOL_INVALID_INPUT' });
  });
});

describe('tool calls in generated text', () => {
  it('finds the first complete call among the tools', () => {
    const text = 'Check: <search>capital of France</search> then <javascript>1 + 1</javascript>';
    expect(findToolCall(text, ['javascript', 'search'])).toEqual({
      name: 'search',
      input: 'capital of France',
      start: 7,
      end: 41,
    });
    expect(text.slice(7, 41)).toBe('<search>capital of France</search>');
    expect(findToolCall('<javascript>1 + ', ['javascript'])).toBeUndefined();
    expect(findToolCall('<python>1</python>', ['javascript'])).toBeUndefined();
  });

  it('formats an observation', () => {
    expect(formatToolResult('=> 2')).toBe('<result>\n=> 2\n</result>');
  });
});
