import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  wireAnswerArbitrary,
  wireErrorRecordArbitrary,
  wireLatentStateArbitrary,
  wireRequestArbitrary,
} from '../../arbitraries/index.ts';
import {
  decodeAnswer,
  decodeErrorRecord,
  decodeLatentState,
  decodeRequest,
  encodeAnswer,
  encodeErrorRecord,
  encodeLatentState,
  encodeRequest,
  topologyCatalog,
  WireError,
  type WireErrorCode,
  type WireLatentState,
  type WireRequest,
} from '../../connectors/wire/index.ts';

const catalog = topologyCatalog([
  { id: 'math', version: 2, agents: { planner: { hiddenSize: 4 }, solver: { hiddenSize: 3 } } },
  { id: 'math', version: 3, agents: { planner: { hiddenSize: 4 } } },
]);

const request: WireRequest = {
  requestId: 'r1',
  topologyId: 'math',
  topologyVersion: 2,
  input: 'hi',
  metadata: {},
  deadlineUnixMs: 0,
};

// [1, 3] float32: 1, 2, 3 packed little-endian by hand.
const latent: WireLatentState = {
  requestId: 'r1',
  topologyId: 'math',
  topologyVersion: 2,
  round: 1,
  fromAgent: 'planner',
  toAgent: 'solver',
  shape: [1, 3],
  dtype: 'F32',
  data: new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40]),
};

function wireErrorOf(run: () => unknown): WireError {
  try {
    run();
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

function expectWireError(run: () => unknown, code: WireErrorCode, path: string): WireError {
  const error = wireErrorOf(run);
  expect({ code: error.code, path: error.path }).toEqual({ code, path });
  return error;
}

/** Appends a varint field: protobuf keeps the last value of a repeated scalar field. */
function withField(bytes: Uint8Array, fieldNumber: number, value: number): Uint8Array {
  return new Uint8Array([...bytes, fieldNumber << 3, value]);
}

describe('encoding', () => {
  it('writes the bytes the protobuf spec prescribes', () => {
    // field 1 varint 1; field 2 "r1"; field 3 "math"; field 4 varint 2; field 5 "hi".
    expect([...encodeRequest(request)]).toEqual([
      0x08, 0x01, 0x12, 0x02, 0x72, 0x31, 0x1a, 0x04, 0x6d, 0x61, 0x74, 0x68, 0x20, 0x02, 0x2a,
      0x02, 0x68, 0x69,
    ]);
  });

  it('reads hand-encoded bytes', () => {
    const bytes = new Uint8Array([
      0x08, 0x01, 0x12, 0x02, 0x72, 0x31, 0x1a, 0x04, 0x6d, 0x61, 0x74, 0x68, 0x20, 0x02, 0x38,
      0x05,
    ]);
    expect(decodeRequest(bytes)).toEqual({ ...request, input: '', deadlineUnixMs: 5 });
  });
});

describe('round trips', () => {
  it('keeps every field of every message', () => {
    const seed = 81_011;
    console.log(`wire round-trip property seed ${seed}`);
    const options = { seed, numRuns: 200 };
    fc.assert(
      fc.property(wireRequestArbitrary(), (m) => {
        expect(decodeRequest(encodeRequest(m))).toEqual(m);
      }),
      options,
    );
    fc.assert(
      fc.property(wireLatentStateArbitrary(), (m) => {
        const back = decodeLatentState(encodeLatentState(m));
        expect({ ...back, data: [...back.data] }).toEqual({ ...m, data: [...m.data] });
      }),
      options,
    );
    fc.assert(
      fc.property(wireAnswerArbitrary(), (m) => {
        expect(decodeAnswer(encodeAnswer(m))).toEqual(m);
      }),
      options,
    );
    fc.assert(
      fc.property(wireErrorRecordArbitrary(), (m) => {
        const back = decodeErrorRecord(encodeErrorRecord(m));
        expect({ ...back, original: [...back.original] }).toEqual({
          ...m,
          original: [...m.original],
        });
      }),
      options,
    );
  });
});

describe('validation', () => {
  it('rejects an oversize record before decoding it', () => {
    const bytes = encodeRequest(request);
    const error = expectWireError(
      () => decodeRequest(bytes, { maxMessageBytes: bytes.length - 1 }),
      'oversize_message',
      '',
    );
    expect(error.message).toContain(`${bytes.length} bytes`);
    expect(decodeRequest(bytes, { maxMessageBytes: bytes.length })).toEqual(request);
  });

  it('rejects malformed protobuf', () => {
    const truncated = encodeRequest(request).subarray(0, 5);
    expectWireError(() => decodeRequest(truncated), 'malformed_protobuf', '');
    // Field 1 with wire type 7, which does not exist.
    expectWireError(() => decodeRequest(new Uint8Array([0x0f, 0x01])), 'malformed_protobuf', '');
  });

  it('rejects a missing or newer schema version', () => {
    const withoutVersion = encodeRequest(request).subarray(2); // drop the leading 08 01
    expectWireError(
      () => decodeRequest(withoutVersion),
      'unsupported_schema_version',
      'schema_version',
    );
    const newer = withField(encodeRequest(request), 1, 2);
    const error = expectWireError(
      () => decodeRequest(newer),
      'unsupported_schema_version',
      'schema_version',
    );
    expect(error.message).toContain('schema_version 2');
  });

  it('rejects missing ids', () => {
    expectWireError(
      () => decodeRequest(encodeRequest({ ...request, requestId: '' })),
      'missing_field',
      'request_id',
    );
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, toAgent: '' })),
      'missing_field',
      'to_agent',
    );
  });

  it('rejects an unknown topology or version', () => {
    const unknown = encodeRequest({ ...request, topologyId: 'poetry' });
    expectWireError(() => decodeRequest(unknown, { catalog }), 'unknown_topology', 'topology_id');
    expect(decodeRequest(unknown).topologyId).toBe('poetry'); // no catalog, no check
    const old = encodeRequest({ ...request, topologyVersion: 1 });
    const error = expectWireError(
      () => decodeRequest(old, { catalog }),
      'unknown_topology_version',
      'topology_version',
    );
    expect(error.message).toContain('served: 2, 3');
  });

  it('rejects an unknown agent', () => {
    const bytes = encodeLatentState({ ...latent, fromAgent: 'critic' });
    const error = expectWireError(
      () => decodeLatentState(bytes, { catalog }),
      'unknown_agent',
      'from_agent',
    );
    expect(error.message).toContain("'critic'");
    // solver exists in version 2 but not in version 3.
    const v3 = encodeLatentState({ ...latent, topologyVersion: 3, fromAgent: 'planner' });
    expectWireError(() => decodeLatentState(v3, { catalog }), 'unknown_agent', 'to_agent');
  });

  it('rejects shapes that disagree with the data', () => {
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, shape: [2, 3] })),
      'shape_mismatch',
      'data',
    );
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, shape: [3, 0] })),
      'shape_mismatch',
      'shape[1]',
    );
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, shape: [] })),
      'shape_mismatch',
      'shape',
    );
    // 12 bytes are 6 F16 elements, not 3.
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, dtype: 'F16' })),
      'shape_mismatch',
      'data',
    );
    // An absurd shape does not overflow into a false match.
    const huge = { ...latent, shape: [0xffffffff, 0xffffffff, 0xffffffff, 3] };
    expectWireError(() => decodeLatentState(encodeLatentState(huge)), 'shape_mismatch', 'data');
  });

  it("rejects a last dimension other than the receiver's hidden size", () => {
    const bytes = encodeLatentState({ ...latent, shape: [3, 1] });
    expect(decodeLatentState(bytes).shape).toEqual([3, 1]);
    const error = expectWireError(
      () => decodeLatentState(bytes, { catalog }),
      'hidden_size_mismatch',
      'shape[1]',
    );
    expect(error.message).toContain('hidden size 3');
  });

  it('rejects NaN and infinities in every dtype, naming the element', () => {
    const nanAt2 = new Uint8Array(latent.data);
    nanAt2.set([0x01, 0x00, 0x80, 0x7f], 8); // a signalling NaN at flat index 2
    const error = expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, data: nanAt2 })),
      'non_finite',
      'data[2]',
    );
    expect(error.message).toContain('index [0, 2]');
    expect(error.message).toContain('NaN');
    const f16 = { ...latent, dtype: 'F16' as const, shape: [2, 2] };
    const f16Inf = new Uint8Array([0x00, 0x3c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0xfc]); // -inf last
    const infError = expectWireError(
      () => decodeLatentState(encodeLatentState({ ...f16, data: f16Inf })),
      'non_finite',
      'data[3]',
    );
    expect(infError.message).toContain('infinity');
    const bf16 = { ...latent, dtype: 'BF16' as const, shape: [2] };
    const bf16NaN = new Uint8Array([0x80, 0x3f, 0x81, 0x7f]); // 1.0, then a NaN
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...bf16, data: bf16NaN })),
      'non_finite',
      'data[1]',
    );
    // The largest finite values and -0 pass.
    const extremes = new Uint8Array([0xff, 0xff, 0x7f, 0x7f, 0, 0, 0, 0x80, 0, 0, 0x80, 0x3f]);
    expect(decodeLatentState(encodeLatentState({ ...latent, data: extremes })).shape).toEqual([
      1, 3,
    ]);
  });

  it('rejects an invalid dtype and round 0', () => {
    const unspecified = withField(encodeLatentState(latent), 9, 0);
    expectWireError(() => decodeLatentState(unspecified), 'invalid_dtype', 'dtype');
    const unknown = withField(encodeLatentState(latent), 9, 7);
    expectWireError(() => decodeLatentState(unknown), 'invalid_dtype', 'dtype');
    expectWireError(
      () => decodeLatentState(encodeLatentState({ ...latent, round: 0 })),
      'invalid_value',
      'round',
    );
  });

  it('accepts a valid latent state against the catalog', () => {
    expect(decodeLatentState(encodeLatentState(latent), { catalog }).shape).toEqual([1, 3]);
  });
});
