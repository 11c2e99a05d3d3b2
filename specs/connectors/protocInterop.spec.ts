// Interop with a real peer: Debian's protoc (protobuf-compiler) reads what we write and writes
// what we read. Needs `protoc` on PATH (apt-get install protobuf-compiler).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
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
  protoFiles,
  protoIncludeDir,
  type WireMessageType,
} from '../../connectors/wire/index.ts';

const fileOf: Record<WireMessageType, string> = {
  'rmas.v1.Request': 'request.proto',
  'rmas.v1.LatentState': 'latent_state.proto',
  'rmas.v1.Answer': 'answer.proto',
  'rmas.v1.ErrorRecord': 'error_record.proto',
};

function protoc(mode: 'decode' | 'encode', type: WireMessageType, input: Uint8Array | string) {
  return execFileSync(
    'protoc',
    ['-I', protoIncludeDir, `--${mode}=${type}`, path.join(protoIncludeDir, fileOf[type])],
    { input, maxBuffer: 1 << 24 },
  );
}

const protocDecode = (type: WireMessageType, bytes: Uint8Array) =>
  protoc('decode', type, bytes).toString('utf8');
const protocEncode = (type: WireMessageType, text: string) =>
  new Uint8Array(protoc('encode', type, text));

describe('protoc reads what we write', () => {
  it('compiles the schema files', () => {
    expect(protoFiles.map((file) => path.basename(file)).sort()).toEqual(
      Object.values(fileOf).sort(),
    );
    execFileSync('protoc', [
      '-I',
      protoIncludeDir,
      '--descriptor_set_out=/dev/null',
      ...protoFiles,
    ]);
  });

  it('decodes a request', () => {
    const bytes = encodeRequest({
      requestId: 'r1',
      topologyId: 'math',
      topologyVersion: 2,
      input: 'What is 2+2?',
      metadata: { user: 'ada' },
      deadlineUnixMs: 1_700_000_000_000,
    });
    expect(protocDecode('rmas.v1.Request', bytes)).toBe(
      [
        'schema_version: 1',
        'request_id: "r1"',
        'topology_id: "math"',
        'topology_version: 2',
        'input: "What is 2+2?"',
        'metadata {',
        '  key: "user"',
        '  value: "ada"',
        '}',
        'deadline_unix_ms: 1700000000000',
        '',
      ].join('\n'),
    );
  });

  it('decodes a latent state with its packed f16 data', () => {
    const bytes = encodeLatentState({
      requestId: 'r1',
      topologyId: 'math',
      topologyVersion: 2,
      round: 3,
      fromAgent: 'planner',
      toAgent: 'solver',
      shape: [1, 3],
      dtype: 'F16',
      data: new Uint8Array([0x00, 0x3c, 0x00, 0x40, 0x00, 0x42]), // 1, 2, 3 in binary16
    });
    // protoc prints bytes as C-escaped text: 0x3c is '<', 0x40 '@', 0x42 'B'.
    expect(protocDecode('rmas.v1.LatentState', bytes)).toBe(
      [
        'schema_version: 1',
        'request_id: "r1"',
        'topology_id: "math"',
        'topology_version: 2',
        'round: 3',
        'from_agent: "planner"',
        'to_agent: "solver"',
        'shape: 1',
        'shape: 3',
        'dtype: F16',
        'data: "\\000<\\000@\\000B"',
        '',
      ].join('\n'),
    );
  });

  it('decodes an answer with usage and an error', () => {
    const bytes = encodeAnswer({
      requestId: 'r1',
      topologyId: 'math',
      topologyVersion: 2,
      text: '4',
      rounds: 3,
      usage: [
        {
          agent: 'solver',
          round: 3,
          promptTokens: 12,
          generatedTokens: 1,
          latentSteps: 32,
          flops: 1.5e9,
          wallMs: 2.25,
        },
      ],
      error: { code: 'deadline_exceeded', message: 'late' },
    });
    expect(protocDecode('rmas.v1.Answer', bytes)).toBe(
      [
        'schema_version: 1',
        'request_id: "r1"',
        'topology_id: "math"',
        'topology_version: 2',
        'text: "4"',
        'rounds: 3',
        'usage {',
        '  agent: "solver"',
        '  round: 3',
        '  prompt_tokens: 12',
        '  generated_tokens: 1',
        '  latent_steps: 32',
        '  flops: 1500000000',
        '  wall_ms: 2.25',
        '}',
        'error {',
        '  code: "deadline_exceeded"',
        '  message: "late"',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('decodes a dead letter with binary original bytes and a negative offset field', () => {
    const bytes = encodeErrorRecord({
      code: 'malformed_protobuf',
      message: 'é',
      path: '',
      original: new Uint8Array([0x00, 0xff, 0x0a]),
      messageType: 'rmas.v1.Request',
      sourceTopic: 'requests',
      sourcePartition: 4,
      sourceOffset: '9007199254740993', // 2^53 + 1: survives only as an exact int64
      requestId: '',
      occurredUnixMs: 5,
    });
    expect(protocDecode('rmas.v1.ErrorRecord', bytes)).toBe(
      [
        'schema_version: 1',
        'code: "malformed_protobuf"',
        'message: "\\303\\251"', // UTF-8 of é, octal-escaped
        'original: "\\000\\377\\n"',
        'message_type: "rmas.v1.Request"',
        'source_topic: "requests"',
        'source_partition: 4',
        'source_offset: 9007199254740993',
        'occurred_unix_ms: 5',
        '',
      ].join('\n'),
    );
  });
});

describe('we read what protoc writes', () => {
  it('reads a request', () => {
    const bytes = protocEncode(
      'rmas.v1.Request',
      'schema_version: 1 request_id: "r9" topology_id: "t" topology_version: 7 input: "x" ' +
        'metadata { key: "k" value: "v" } metadata { key: "j" value: "w" } deadline_unix_ms: 42',
    );
    expect(decodeRequest(bytes)).toEqual({
      requestId: 'r9',
      topologyId: 't',
      topologyVersion: 7,
      input: 'x',
      metadata: { k: 'v', j: 'w' },
      deadlineUnixMs: 42,
    });
  });

  it('reads a latent state in bf16', () => {
    const bytes = protocEncode(
      'rmas.v1.LatentState',
      'schema_version: 1 request_id: "r" topology_id: "t" topology_version: 1 round: 2 ' +
        'from_agent: "a" to_agent: "b" shape: 2 dtype: BF16 data: "\\200\\077\\000\\300"',
    );
    const state = decodeLatentState(bytes);
    expect({ ...state, data: [...state.data] }).toEqual({
      requestId: 'r',
      topologyId: 't',
      topologyVersion: 1,
      round: 2,
      fromAgent: 'a',
      toAgent: 'b',
      shape: [2],
      dtype: 'BF16',
      data: [0x80, 0x3f, 0x00, 0xc0], // 1.0 and -2.0 in bfloat16, little-endian
    });
  });

  it('reads an answer and a dead letter', () => {
    const answer = protocEncode(
      'rmas.v1.Answer',
      'schema_version: 1 request_id: "r" text: "ok" rounds: 2 ' +
        'usage { agent: "a" round: 1 prompt_tokens: 3 latent_steps: 8 flops: 0.5 } ' +
        'usage { agent: "b" round: 2 generated_tokens: 4 wall_ms: 7 }',
    );
    expect(decodeAnswer(answer)).toEqual({
      requestId: 'r',
      topologyId: '',
      topologyVersion: 0,
      text: 'ok',
      rounds: 2,
      usage: [
        {
          agent: 'a',
          round: 1,
          promptTokens: 3,
          generatedTokens: 0,
          latentSteps: 8,
          flops: 0.5,
          wallMs: 0,
        },
        {
          agent: 'b',
          round: 2,
          promptTokens: 0,
          generatedTokens: 4,
          latentSteps: 0,
          flops: 0,
          wallMs: 7,
        },
      ],
    });
    const record = decodeErrorRecord(
      protocEncode(
        'rmas.v1.ErrorRecord',
        'schema_version: 1 code: "shape_mismatch" path: "data" original: "\\001\\002" ' +
          'source_partition: -3 source_offset: -9223372036854775808',
      ),
    );
    expect({ ...record, original: [...record.original] }).toEqual({
      code: 'shape_mismatch',
      message: '',
      path: 'data',
      original: [1, 2],
      messageType: '',
      sourceTopic: '',
      sourcePartition: -3,
      sourceOffset: '-9223372036854775808',
      requestId: '',
      occurredUnixMs: 0,
    });
  });

  it('rejects what protoc writes from a bad latent state', () => {
    const noDtype = protocEncode(
      'rmas.v1.LatentState',
      'schema_version: 1 request_id: "r" topology_id: "t" round: 1 from_agent: "a" to_agent: "b" ' +
        'shape: 1 data: "\\000\\000\\000\\000"',
    );
    expect(() => decodeLatentState(noDtype)).toThrow(/dtype 0 is not one of/);
  });
});

describe('round trip through protoc', () => {
  it('ours -> protoc text -> protoc binary -> ours keeps every field', () => {
    const seed = 81_021;
    console.log(`protoc round-trip property seed ${seed}`);
    const options = { seed, numRuns: 12 };
    const through = (type: WireMessageType, bytes: Uint8Array) =>
      protocEncode(type, protocDecode(type, bytes));
    fc.assert(
      fc.property(wireRequestArbitrary(), (m) => {
        expect(decodeRequest(through('rmas.v1.Request', encodeRequest(m)))).toEqual(m);
      }),
      options,
    );
    fc.assert(
      fc.property(wireLatentStateArbitrary(), (m) => {
        const back = decodeLatentState(through('rmas.v1.LatentState', encodeLatentState(m)));
        expect({ ...back, data: [...back.data] }).toEqual({ ...m, data: [...m.data] });
      }),
      options,
    );
    fc.assert(
      fc.property(wireAnswerArbitrary(), (m) => {
        expect(decodeAnswer(through('rmas.v1.Answer', encodeAnswer(m)))).toEqual(m);
      }),
      options,
    );
    fc.assert(
      fc.property(wireErrorRecordArbitrary(), (m) => {
        const back = decodeErrorRecord(through('rmas.v1.ErrorRecord', encodeErrorRecord(m)));
        expect({ ...back, original: [...back.original] }).toEqual({
          ...m,
          original: [...m.original],
        });
      }),
      options,
    );
  });
});
