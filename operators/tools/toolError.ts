/**
 * The error class of the deliberation tools. `code` is stable (match on it, not on the message);
 * the message says what was wrong and where.
 */
export type ToolErrorCode =
  /** The code ran longer than the time limit. */
  | 'TOOL_TIMEOUT'
  /** The code printed (or returned) more than the output limit. */
  | 'TOOL_OUTPUT_LIMIT'
  /** The code allocated more than the memory limit. */
  | 'TOOL_MEMORY_LIMIT'
  /** The code does not parse. */
  | 'TOOL_SYNTAX'
  /** The code threw. */
  | 'TOOL_RUNTIME'
  /** The tool was called or configured with values it cannot use. */
  | 'TOOL_INVALID_INPUT';

export class ToolError extends Error {
  override readonly name = 'ToolError';
  /** What the code printed before it failed (JavaScript tool), else ''. */
  readonly output: string;
  constructor(
    readonly code: ToolErrorCode,
    message: string,
    options: { cause?: unknown; output?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.output = options.output ?? '';
  }
}
