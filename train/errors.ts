/**
 * The one error class of the training layer. `code` is stable (match on it, not on the message);
 * the message says what was wrong and where (which file, which parameter, which field).
 */
export type TrainErrorCode =
  | 'INVALID_CONFIG'
  | 'EMPTY_DATASET'
  | 'PARAM_MISMATCH'
  | 'CHECKPOINT_INVALID'
  | 'NON_FINITE_LOSS'
  | 'PLAN_MISMATCH';

export class TrainError extends Error {
  override readonly name = 'TrainError';
  constructor(
    readonly code: TrainErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
