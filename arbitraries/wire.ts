/**
 * fast-check arbitraries of the rmas.v1 wire messages (connectors/wire): requests, latent states,
 * answers and dead letters, as the codecs take them. Every generated message is well formed: it
 * decodes back to itself. Strings are full Unicode (lone surrogates excluded: protobuf strings are
 * UTF-8); latent-state data is packed element by element here, independently of the codec.
 */
import fc from 'fast-check';
import type {
  AgentUsage,
  TensorDType,
  WireAnswer,
  WireErrorRecord,
  WireLatentState,
  WireRequest,
} from '../connectors/wire/index.ts';
import { elementBitsArbitrary, type TensorValues } from './tensor.ts';

const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
const text = fc.string({ unit: 'binary', maxLength: 40 });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const safeCount = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
// Protobuf maps keep the last entry per key, and '__proto__' is not a plain own key.
const metadataKey = fc
  .string({ unit: 'binary', maxLength: 8 })
  .filter((key) => key !== '__proto__');

/**
 * Requests (request.proto).
 * @example fc.assert(fc.property(wireRequestArbitrary(), (r) => { expect(decodeRequest(encodeRequest(r))).toEqual(r); }));
 */
export function wireRequestArbitrary(): fc.Arbitrary<WireRequest> {
  return fc.record({
    requestId: id,
    topologyId: id,
    topologyVersion: uint32,
    input: text,
    metadata: fc.dictionary(metadataKey, text, { maxKeys: 4 }),
    deadlineUnixMs: safeCount,
  });
}

/** Per-agent, per-round usage (answer.proto `Usage`); doubles include -0 and the extremes. */
export function agentUsageArbitrary(): fc.Arbitrary<AgentUsage> {
  return fc.record({
    agent: id,
    round: uint32,
    promptTokens: safeCount,
    generatedTokens: safeCount,
    latentSteps: safeCount,
    flops: fc.double({ noNaN: true }),
    wallMs: fc.double({ noNaN: true, min: 0 }),
  });
}

/**
 * Answers (answer.proto), with or without an error.
 * @example fc.sample(wireAnswerArbitrary(), 1)[0].usage // [{ agent: '…', round: 3, … }]
 */
export function wireAnswerArbitrary(): fc.Arbitrary<WireAnswer> {
  return fc
    .record({
      requestId: id,
      topologyId: text,
      topologyVersion: uint32,
      text,
      rounds: uint32,
      usage: fc.array(agentUsageArbitrary(), { maxLength: 4 }),
      error: fc.option(fc.record({ code: text, message: text }), { nil: undefined }),
    })
    .map(({ error, ...answer }) => (error === undefined ? answer : { ...answer, error }));
}

export interface LatentStateConstraints {
  /** @defaultValue all three */
  dtypes?: readonly TensorDType[];
  /** Size of each dimension. @defaultValue 1 to 4 */
  dim?: { min: number; max: number };
  /** Number of dimensions. @defaultValue 1 to 3 */
  rank?: { min: number; max: number };
  /**
   * 'finite' (default) is what the decoder accepts; 'any' adds NaNs and infinities, which it
   * rejects (for tests of that rejection).
   */
  values?: TensorValues;
}

/**
 * Latent states (latent_state.proto) whose data holds product(shape) elements of their dtype,
 * drawn as bit patterns (edge cases weighted in) and packed little-endian.
 * @example fc.sample(wireLatentStateArbitrary({ dtypes: ['F16'] }), 1)[0].data.length // 2 · product(shape)
 */
export function wireLatentStateArbitrary(
  constraints: LatentStateConstraints = {},
): fc.Arbitrary<WireLatentState> {
  const dtypes = constraints.dtypes ?? ['F32', 'F16', 'BF16'];
  const values = constraints.values ?? 'finite';
  const dim = constraints.dim ?? { min: 1, max: 4 };
  const rank = constraints.rank ?? { min: 1, max: 3 };
  return fc
    .record({
      requestId: id,
      topologyId: id,
      topologyVersion: uint32,
      round: fc.integer({ min: 1, max: 0xffffffff }),
      fromAgent: id,
      toAgent: id,
      shape: fc.array(fc.integer(dim), { minLength: rank.min, maxLength: rank.max }),
      dtype: fc.constantFrom(...dtypes),
    })
    .chain((header) => {
      const count = header.shape.reduce((a, b) => a * b, 1);
      return fc
        .array(elementBitsArbitrary(header.dtype, values), { minLength: count, maxLength: count })
        .map((bits) => ({
          ...header,
          data: packLittleEndian(bits, header.dtype === 'F32' ? 4 : 2),
        }));
    });
}

function packLittleEndian(bits: readonly number[], width: 2 | 4): Uint8Array {
  const out = new Uint8Array(bits.length * width);
  bits.forEach((pattern, i) => {
    for (let b = 0; b < width; b++) out[i * width + b] = (pattern >>> (8 * b)) & 0xff;
  });
  return out;
}

/**
 * Dead letters (error_record.proto); the int64 offset spans its whole range, as a decimal string.
 * @example fc.sample(wireErrorRecordArbitrary(), 1)[0].sourceOffset // e.g. '-9223372036854775808'
 */
export function wireErrorRecordArbitrary(): fc.Arbitrary<WireErrorRecord> {
  return fc.record({
    code: text,
    message: text,
    path: text,
    original: fc.uint8Array({ maxLength: 32 }),
    messageType: text,
    sourceTopic: text,
    sourcePartition: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    sourceOffset: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
    requestId: text,
    occurredUnixMs: safeCount,
  });
}
