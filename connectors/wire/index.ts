/**
 * The rmas.v1 wire format: protobuf messages for requests, latent hand-offs, answers and dead
 * letters, their validated codecs, and tensor packing (f32 / f16 / bf16, little-endian).
 */
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeAnswer,
  decodeErrorRecord,
  decodeLatentState,
  decodeRequest,
  encodeAnswer,
  encodeErrorRecord,
  encodeLatentState,
  encodeRequest,
  type WireReadOptions,
} from './codec.ts';
export type {
  AgentUsage,
  WireAnswer,
  WireErrorRecord,
  WireLatentState,
  WireRequest,
} from './messages.ts';
export {
  protoFiles,
  protoIncludeDir,
  WIRE_SCHEMA_VERSION,
  type WireMessageType,
} from './schema.ts';
export {
  bf16BitsToF32Bits,
  bytesPerElement,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  packTensor,
  type TensorDType,
  unpackTensor,
} from './tensorBytes.ts';
export { type ServedTopology, type TopologyCatalog, topologyCatalog } from './topologyCatalog.ts';
export { WireError, type WireErrorCode } from './wireError.ts';
