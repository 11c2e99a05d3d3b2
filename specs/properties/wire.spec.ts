import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  float32Bits,
  tensorArbitrary,
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
  packTensor,
  type TensorDType,
  unpackTensor,
  WireError,
  type WireLatentState,
} from '../../connectors/wire/index.ts';
import { propertyConfig } from './config.ts';

// The policy connectors/wire/tensorBytes.ts documents, restated independently: a signalling NaN
// (all-ones exponent, quiet bit clear, payload non-zero) comes back from a 16-bit trip quiet.
const QUIET_BIT_F32 = 0x00400000;
function afterNarrowTrip(bits: number): number {
  const notANumber = (bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0;
  return notANumber ? (bits | QUIET_BIT_F32) >>> 0 : bits;
}

function latentFromTensor(shape: number[], data: Uint8Array, dtype: TensorDType): WireLatentState {
  return {
    requestId: 'r',
    topologyId: 't',
    topologyVersion: 1,
    round: 1,
    fromAgent: 'a',
    toAgent: 'b',
    shape,
    dtype,
    data,
  };
}

describe('tensor packing is bit-exact', () => {
  it('F32: every bit pattern round-trips, -0 and NaN payloads included', () => {
    fc.assert(
      fc.property(tensorArbitrary(), ({ values }) => {
        const bytes = packTensor(values, 'F32');
        expect(bytes.length).toBe(4 * values.length);
        expect(float32Bits(unpackTensor(bytes, 'F32'))).toEqual(float32Bits(values));
      }),
      propertyConfig('f32 pack/unpack bit-exact', 300),
    );
  });

  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: values it represents round-trip exactly; signalling NaNs come back quiet`, () => {
      fc.assert(
        fc.property(tensorArbitrary({ representableIn: dtype }), ({ values }) => {
          const back = unpackTensor(packTensor(values, dtype), dtype);
          expect(float32Bits(back)).toEqual(float32Bits(values).map(afterNarrowTrip));
        }),
        propertyConfig(`${dtype} round trip of representable values`, 300),
      );
    });
  }
});

describe('protobuf messages round-trip bit-exactly', () => {
  it('Request, Answer and ErrorRecord', () => {
    fc.assert(
      fc.property(wireRequestArbitrary(), (m) => {
        expect(decodeRequest(encodeRequest(m))).toEqual(m);
      }),
      propertyConfig('Request round trip', 200),
    );
    fc.assert(
      fc.property(wireAnswerArbitrary(), (m) => {
        const back = decodeAnswer(encodeAnswer(m));
        expect(back).toEqual(m);
        // toEqual treats -0 and 0 alike in doubles; the usage doubles must keep their sign.
        back.usage.forEach((u, i) => {
          expect(Object.is(u.flops, m.usage[i]!.flops)).toBe(true);
          expect(Object.is(u.wallMs, m.usage[i]!.wallMs)).toBe(true);
        });
      }),
      propertyConfig('Answer round trip', 200),
    );
    fc.assert(
      fc.property(wireErrorRecordArbitrary(), (m) => {
        const back = decodeErrorRecord(encodeErrorRecord(m));
        expect({ ...back, original: [...back.original] }).toEqual({
          ...m,
          original: [...m.original],
        });
      }),
      propertyConfig('ErrorRecord round trip', 200),
    );
  });

  it('LatentState: the packed data comes back byte for byte, in every dtype', () => {
    fc.assert(
      fc.property(wireLatentStateArbitrary(), (m) => {
        const back = decodeLatentState(encodeLatentState(m));
        expect({ ...back, data: [...back.data] }).toEqual({ ...m, data: [...m.data] });
      }),
      propertyConfig('LatentState round trip', 200),
    );
  });

  it('a finite f32 tensor survives tensor -> LatentState -> bytes -> LatentState -> tensor bit for bit', () => {
    fc.assert(
      fc.property(tensorArbitrary({ values: 'finite' }), ({ shape, values }) => {
        const sent = latentFromTensor(shape, packTensor(values, 'F32'), 'F32');
        const received = decodeLatentState(encodeLatentState(sent));
        expect(received.shape).toEqual(shape);
        expect(float32Bits(unpackTensor(received.data, 'F32'))).toEqual(float32Bits(values));
      }),
      propertyConfig('tensor through a LatentState', 200),
    );
  });

  it('a LatentState holding a NaN or an infinity is refused, naming the first such element', () => {
    const nonFinite = tensorArbitrary({ values: 'any' }).filter(({ values }) =>
      float32Bits(values).some((b) => (b & 0x7f800000) === 0x7f800000),
    );
    fc.assert(
      fc.property(nonFinite, ({ shape, values }) => {
        const first = float32Bits(values).findIndex((b) => (b & 0x7f800000) === 0x7f800000);
        const bytes = encodeLatentState(latentFromTensor(shape, packTensor(values, 'F32'), 'F32'));
        let caught: unknown;
        try {
          decodeLatentState(bytes);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(WireError);
        expect((caught as WireError).code).toBe('non_finite');
        expect((caught as WireError).path).toBe(`data[${first}]`);
      }),
      propertyConfig('non-finite latent states are refused', 200),
    );
  });
});
