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
import { propertyConfig } from './config.ts';

// Laws of the exported arbitraries (fast-check's ArbitraryAssertions): the same seed gives the
// same values, and every value is what the arbitrary promises.

const isNonFiniteBits = (bits: number) => (bits & 0x7f800000) === 0x7f800000;

/** Exactly representable in binary16, decided in float64 arithmetic (exact for these values). */
function representableInF16(x: number): boolean {
  if (!Number.isFinite(x)) return true; // infinities and NaNs exist in binary16
  const a = Math.abs(x);
  if (a === 0) return true;
  if (a > 65504) return false;
  const exponent = Math.floor(Math.log2(a));
  // Subnormals are multiples of 2^-24; normals carry 10 fraction bits.
  const ulp = exponent < -14 ? 2 ** -24 : 2 ** (exponent - 10);
  return Number.isInteger(a / ulp);
}

function sampleWithSeed<T>(arbitrary: fc.Arbitrary<T>, seed: number): T[] {
  return fc.sample(arbitrary, { seed, numRuns: 20 });
}

describe('exported arbitraries', () => {
  it('give the same values for the same seed', () => {
    const arbitraries: fc.Arbitrary<unknown>[] = [
      tensorArbitrary(),
      tensorArbitrary({ representableIn: 'F16' }),
      wireRequestArbitrary(),
      wireLatentStateArbitrary(),
      wireAnswerArbitrary(),
      wireErrorRecordArbitrary(),
    ];
    const normalise = (value: unknown) =>
      JSON.stringify(value, (_, v) =>
        v instanceof Float32Array ? float32Bits(v) : v instanceof Uint8Array ? [...v] : v,
      );
    for (const arbitrary of arbitraries) {
      expect(sampleWithSeed(arbitrary, 7).map(normalise)).toEqual(
        sampleWithSeed(arbitrary, 7).map(normalise),
      );
    }
  });

  it('tensorArbitrary: values fill the shape, and edge cases come up', () => {
    const seen = new Set<number>();
    fc.assert(
      fc.property(tensorArbitrary({ rank: { min: 0, max: 3 }, dim: { min: 0, max: 4 } }), (t) => {
        expect(t.shape.length).toBeLessThanOrEqual(3);
        expect(t.values.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        for (const bits of float32Bits(t.values)) seen.add(bits);
      }),
      propertyConfig('tensorArbitrary fills its shape', 300),
    );
    // -0, a NaN with a payload, a subnormal and an infinity all appear within the runs.
    for (const bits of [0x80000000, 0x7fc00001, 0x00000001, 0xff800000]) {
      expect(seen.has(bits), `bit pattern 0x${bits.toString(16)}`).toBe(true);
    }
  });

  it("tensorArbitrary({ values: 'finite' }) never gives NaN or infinity", () => {
    fc.assert(
      fc.property(tensorArbitrary({ values: 'finite' }), (t) => {
        expect(float32Bits(t.values).filter(isNonFiniteBits)).toEqual([]);
      }),
      propertyConfig('finite tensors are finite', 300),
    );
  });

  it('tensorArbitrary({ representableIn }) gives values the dtype holds exactly', () => {
    fc.assert(
      fc.property(tensorArbitrary({ representableIn: 'F16' }), (t) => {
        for (const x of t.values) expect(representableInF16(x), `${x}`).toBe(true);
      }),
      propertyConfig('F16-representable tensors', 200),
    );
    fc.assert(
      fc.property(tensorArbitrary({ representableIn: 'BF16' }), (t) => {
        // bfloat16 is the top half of a float32: the low 16 bits are zero.
        for (const bits of float32Bits(t.values)) expect(bits & 0xffff).toBe(0);
      }),
      propertyConfig('BF16-representable tensors', 200),
    );
  });

  it('wireLatentStateArbitrary: data holds product(shape) elements, finite by default', () => {
    const width = { F32: 4, F16: 2, BF16: 2 } as const;
    const exponent = { F32: 0x7f800000, F16: 0x7c00, BF16: 0x7f80 } as const;
    fc.assert(
      fc.property(wireLatentStateArbitrary(), (m) => {
        const w = width[m.dtype];
        const count = m.shape.reduce((a, b) => a * b, 1);
        expect(m.data.length).toBe(count * w);
        for (let i = 0; i < count; i++) {
          let bits = 0;
          for (let b = w - 1; b >= 0; b--) bits = bits * 256 + m.data[i * w + b]!;
          expect(bits & exponent[m.dtype]).not.toBe(exponent[m.dtype]);
        }
      }),
      propertyConfig('latent states are well formed', 200),
    );
  });
});
