/** fast-check arbitraries for the rmas.v1 messages, reused by the codec, interop and Kafka tests. */
import fc from 'fast-check';
import type {
  AgentUsage,
  TensorDType,
  WireAnswer,
  WireErrorRecord,
  WireLatentState,
  WireRequest,
} from '../../connectors/wire/index.ts';

const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
const text = fc.string({ unit: 'binary', maxLength: 40 });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const safeCount = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
// Map keys: protobuf maps keep the last entry per key, and '__proto__' is not a plain own key.
const metadataKey = fc.string({ maxLength: 8 }).filter((key) => key !== '__proto__');

export const arbRequest: fc.Arbitrary<WireRequest> = fc.record({
  requestId: id,
  topologyId: id,
  topologyVersion: uint32,
  input: text,
  metadata: fc.dictionary(metadataKey, text, { maxKeys: 4 }),
  deadlineUnixMs: safeCount,
});

export const arbUsage: fc.Arbitrary<AgentUsage> = fc.record({
  agent: id,
  round: uint32,
  promptTokens: safeCount,
  generatedTokens: safeCount,
  latentSteps: safeCount,
  flops: fc.double({ noNaN: true }),
  wallMs: fc.double({ noNaN: true, min: 0 }),
});

export const arbAnswer: fc.Arbitrary<WireAnswer> = fc
  .record({
    requestId: id,
    topologyId: text,
    topologyVersion: uint32,
    text,
    rounds: uint32,
    usage: fc.array(arbUsage, { maxLength: 4 }),
    error: fc.option(fc.record({ code: text, message: text }), { nil: undefined }),
  })
  .map(({ error, ...answer }) => (error === undefined ? answer : { ...answer, error }));

const dtypeWidth: Record<TensorDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Well-formed latent states: shape product matches the data; values may be anything finite. */
export const arbLatentState: fc.Arbitrary<WireLatentState> = fc
  .record({
    requestId: id,
    topologyId: id,
    topologyVersion: uint32,
    round: fc.integer({ min: 1, max: 0xffffffff }),
    fromAgent: id,
    toAgent: id,
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    dtype: fc.constantFrom<TensorDType>('F32', 'F16', 'BF16'),
  })
  .chain((header) => {
    const count = header.shape.reduce((a, b) => a * b, 1);
    const width = dtypeWidth[header.dtype];
    // Finite values: keep every element's exponent below all-ones.
    const element = fc.uint8Array({ minLength: width, maxLength: width }).map((bytes) => {
      const top = width - 1;
      bytes[top] = bytes[top]! & 0xbf; // clear the exponent's top bit -> never all ones
      return bytes;
    });
    return fc.array(element, { minLength: count, maxLength: count }).map((elements) => {
      const data = new Uint8Array(count * width);
      elements.forEach((bytes, i) => {
        data.set(bytes, i * width);
      });
      return { ...header, data };
    });
  });

export const arbErrorRecord: fc.Arbitrary<WireErrorRecord> = fc.record({
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
