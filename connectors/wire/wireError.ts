/**
 * Why an input could not be used. The codes are stable: dead-letter consumers and dashboards key
 * on them.
 */
export type WireErrorCode =
  /** The bytes are not a protobuf encoding of the expected message. */
  | 'malformed_protobuf'
  /** The record is larger than the configured limit (checked before decoding). */
  | 'oversize_message'
  /** `schema_version` is missing (0) or newer than this reader. */
  | 'unsupported_schema_version'
  /** A required field is empty. */
  | 'missing_field'
  /** The topology id is not served here. */
  | 'unknown_topology'
  /** The topology is served, but not at this version. */
  | 'unknown_topology_version'
  /** An agent name is not part of the topology. */
  | 'unknown_agent'
  /** The dtype enum value is unspecified or unknown. */
  | 'invalid_dtype'
  /** The shape is empty, has a zero dimension, or its product disagrees with the data length. */
  | 'shape_mismatch'
  /** The last dimension is not the receiving agent's hidden size. */
  | 'hidden_size_mismatch'
  /** The tensor holds a NaN or an infinity. */
  | 'non_finite'
  /** A field holds a value outside its allowed range. */
  | 'invalid_value';

/**
 * A bad input, with a stable `code`, the field `path` it concerns (empty when it is the record
 * as a whole) and the message type being read. Never retriable: the same bytes fail again.
 *
 * @example
 * try { decodeRequest(bytes, limits) } catch (e) { if (e instanceof WireError) console.log(e.code, e.path) }
 */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly retriable = false;

  constructor(
    readonly code: WireErrorCode,
    message: string,
    /** Field path inside the message, e.g. `shape[1]`; '' when not about a field. */
    readonly path: string,
    /** Fully qualified message type, e.g. `rmas.v1.Request`. */
    readonly messageType: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
