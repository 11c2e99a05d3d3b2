/**
 * Typed errors for everything that reads or builds a model: a stable `code` to branch on, and the
 * file and field that were wrong so a user can fix their folder without reading our source.
 */
export type ModelErrorCode =
  | 'MISSING_FILE'
  | 'INVALID_JSON'
  | 'INVALID_CONFIG'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'UNSUPPORTED_DTYPE'
  | 'UNSUPPORTED_FEATURE'
  | 'INVALID_SAFETENSORS'
  | 'MISSING_WEIGHT'
  | 'SHAPE_MISMATCH'
  | 'INVALID_INPUT'
  | 'UNKNOWN_PRESET';

export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly code: ModelErrorCode;
  /** The file that was being read, when there is one (a path or a file name). */
  readonly file: string | undefined;
  /** The field, key or tensor name inside that file. */
  readonly field: string | undefined;

  constructor(
    code: ModelErrorCode,
    message: string,
    where: { file?: string; field?: string; cause?: unknown } = {},
  ) {
    const location = [where.file, where.field].filter((part) => part !== undefined).join(': ');
    super(location === '' ? message : `${location}: ${message}`, { cause: where.cause });
    this.code = code;
    this.file = where.file;
    this.field = where.field;
  }
}
