import { ToolError } from './toolError.ts';

/**
 * A tool an agent may call while it decodes (the deliberation pattern's tool-caller). The model
 * writes `<name>input</name>`; the runtime runs the tool on `input` and splices the returned
 * observation back as `<result>…</result>`.
 */
export interface Tool {
  /** The tag the model writes, e.g. `javascript`. */
  readonly name: string;
  /** One line for the prompt: what the tool does and how to call it. */
  readonly description: string;
  /**
   * Runs the tool. Problems the model should read (its code threw, nothing was found) resolve
   * as observation text; a `ToolError` rejection means the tool itself was misused.
   */
  run(input: string): Promise<string>;
}

export interface ToolCall {
  name: string;
  input: string;
  /** Index of `<name>` in the text. */
  start: number;
  /** Index just after `</name>`. */
  end: number;
}

/**
 * Finds the first complete tool call in generated text.
 * @example findToolCall('Let me check. <javascript>1 + 1</javascript>', ['javascript'])
 * // { name: 'javascript', input: '1 + 1', start: 14, end: 45 }
 */
export function findToolCall(text: string, names: readonly string[]): ToolCall | undefined {
  let best: ToolCall | undefined;
  for (const name of names) {
    const open = `<${name}>`;
    const start = text.indexOf(open);
    if (start < 0 || (best !== undefined && start >= best.start)) continue;
    const close = text.indexOf(`</${name}>`, start + open.length);
    if (close < 0) continue;
    best = {
      name,
      input: text.slice(start + open.length, close),
      start,
      end: close + name.length + 3,
    };
  }
  return best;
}

/**
 * The observation text the model reads after its call.
 * @example formatToolResult('2') // '<result>\n2\n</result>'
 */
export function formatToolResult(observation: string): string {
  return `<result>\n${observation}\n</result>`;
}

/** Throws unless `value` is a finite number within [min, max]. */
export function checkOption(
  tool: string,
  field: string,
  value: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
): void {
  if (!(Number.isFinite(value) && value >= min && value <= max)) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ToolError(
      'TOOL_INVALID_INPUT',
      `${tool}: option ${field} must be ${range}, got ${value}`,
    );
  }
}
