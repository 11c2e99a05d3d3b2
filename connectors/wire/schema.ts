/**
 * The rmas.v1 protobuf schema, loaded at run time from the .proto files beside this module.
 *
 * Why runtime loading and not generated static code: the .proto files stay the single source of
 * truth (the same files `protoc` reads in the interop tests), nothing generated can drift from
 * them, and protobufjs compiles per-type encoders/decoders on first use, so the hot path is as
 * fast as static code. The TypeScript shapes live in messages.ts and are checked against the
 * schema by the round-trip tests.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The schema version every message this library writes carries in `schema_version`. */
export const WIRE_SCHEMA_VERSION = 1;

/** The .proto files, absolute paths (for protoc and for other languages' code generators). */
export const protoFiles: readonly string[] = [
  'request.proto',
  'latent_state.proto',
  'answer.proto',
  'error_record.proto',
].map((name) => fileURLToPath(new URL(name, import.meta.url)));

/** The folder to pass to `protoc -I`. */
export const protoIncludeDir: string = fileURLToPath(new URL('.', import.meta.url));

const root = protobuf.loadSync([...protoFiles]);

/** Fully qualified names of the top-level messages. */
export type WireMessageType =
  | 'rmas.v1.Request'
  | 'rmas.v1.LatentState'
  | 'rmas.v1.Answer'
  | 'rmas.v1.ErrorRecord';

/** The protobufjs reflection type of a message (encoders are compiled once, lazily). */
export function wireType(name: WireMessageType): protobuf.Type {
  return root.lookupType(name);
}

/** Number of the DType enum value, and back. */
export const dtypeNumbers = { F32: 1, F16: 2, BF16: 3 } as const;
