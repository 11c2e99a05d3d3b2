/**
 * The one error class of the operators layer. `code` is stable (match on it, not on the
 * message); the message says what was wrong and where.
 */
export type OperatorErrorCode =
  | 'LINK_SHAPE_MISMATCH'
  | 'LINK_VARIANT_UNKNOWN'
  | 'LINK_MANIFEST_INVALID'
  | 'LINK_WEIGHTS_INVALID'
  | 'SLOT_MISSING'
  | 'SLOT_UNFILLED'
  | 'LATENT_DIM_MISMATCH'
  | 'BATCH_EMPTY'
  | 'INVALID_ARGUMENT';

export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
