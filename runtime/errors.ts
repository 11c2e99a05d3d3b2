/**
 * The one error class of the runtime's stream layer. `code` is stable (match on it, not on the
 * message); the message says what was wrong and where. Inside a stream a failing request becomes
 * an error answer carrying the code, and the stream goes on.
 */
export type RuntimeErrorCode =
  /** The topology IR is not valid (the message lists `validate`'s issues). */
  | 'INVALID_TOPOLOGY'
  /** An agent's model does not fit its IR declaration (hidden size), or is missing. */
  | 'AGENT_MISMATCH'
  /** A link is missing or has the wrong shape for its edge. */
  | 'LINK_MISMATCH'
  /** A model reference that no loader knows. */
  | 'UNKNOWN_MODEL'
  /** A tool an agent declares that the runtime has no implementation for. */
  | 'UNKNOWN_TOOL'
  /** The request itself is malformed (empty id, input not a string, ...). */
  | 'INVALID_REQUEST'
  /** Two requests in flight share an id. */
  | 'DUPLICATE_REQUEST'
  /** Policy 'reject' (or 'block' with a source that ignored its credit): the queue was full. */
  | 'QUEUE_FULL'
  /** Policy 'drop-oldest': a newer request took this one's place. */
  | 'DROPPED'
  /** The request's deadline passed before it was answered. */
  | 'DEADLINE_EXCEEDED'
  /** The user's stop predicate threw. */
  | 'STOP_PREDICATE_FAILED'
  /** A stage returned the wrong number of results (a bug in a plan). */
  | 'STAGE_CONTRACT'
  /** A worker thread failed or exited. */
  | 'WORKER_FAILED'
  /** Options given to compile / buildPlan are not usable. */
  | 'INVALID_OPTIONS';

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The stable code of any thrown value: its string `code` if it has one, else 'INTERNAL'. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
