import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  packTensor,
  unpackTensor,
} from '../../connectors/wire/index.ts';

// Independent references: values computed from the IEEE formulas with doubles, and rounding as a
// nearest-neighbour search over the sorted table of representable values (ties to the even
// pattern). Nothing here shares code with the bit tricks under test.

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);
function f32FromBits(bits: number): number {
  u32View[0] = bits;
  return f32View[0]!;
}

/** Value of a binary format pattern with `exponentBits`/`mantissaBits` (no NaN/inf handling). */
function formulaValue(bits: number, exponentBits: number, mantissaBits: number): number {
  const bias = 2 ** (exponentBits - 1) - 1;
  const sign = bits >>> (exponentBits + mantissaBits) ? -1 : 1;
  const exponent = (bits >>> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / 2 ** mantissaBits) * 2 ** (exponent - bias);
}

/** Non-negative finite patterns' values in order; the infinity pattern acts as the next value. */
function positiveTable(exponentBits: number, mantissaBits: number): number[] {
  const infinityPattern = ((1 << exponentBits) - 1) << mantissaBits;
  const table: number[] = [];
  for (let bits = 0; bits < infinityPattern; bits++) {
    table.push(formulaValue(bits, exponentBits, mantissaBits));
  }
  const bias = 2 ** (exponentBits - 1) - 1;
  table.push(2 ** (bias + 1)); // where the next binade would start
  return table;
}

const f16Table = positiveTable(5, 10);
const bf16Table = positiveTable(8, 7);

function nearestPattern(table: number[], value: number, signBit: number): number {
  const magnitude = Math.abs(value);
  const last = table.length - 1;
  if (magnitude >= table[last]!) return signBit | last;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table[mid]! <= magnitude) lo = mid;
    else hi = mid;
  }
  const below = magnitude - table[lo]!;
  const above = table[hi]! - magnitude;
  if (below < above) return signBit | lo;
  if (above < below) return signBit | hi;
  return signBit | (lo % 2 === 0 ? lo : hi);
}

const isF32NaN = (bits: number) => (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;

describe('float16', () => {
  it('matches hand-computed patterns', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3c00], // 1
      [0xc0000000, 0xc000], // -2
      [0x477fe000, 0x7bff], // 65504, the largest finite
      [0x477ff000, 0x7c00], // 65520: tie between 65504 and 65536 goes to even = infinity
      [0x477fefff, 0x7bff], // just below that tie
      [0x33800000, 0x0001], // 2^-24, the smallest subnormal
      [0x33000000, 0x0000], // 2^-25: tie between 0 and 2^-24 goes to even = 0
      [0x33000001, 0x0001], // just above that tie
      [0x33c00000, 0x0002], // 3 * 2^-25: tie between 1 and 2 units goes to even = 2
      [0x38800000, 0x0400], // 2^-14, the smallest normal
      [0x80000000, 0x8000], // -0
      [0x3f802000, 0x3c01], // 1 + 2^-10
      [0x3f801000, 0x3c00], // 1 + 2^-11: tie -> even (0x3c00)
      [0x3f803000, 0x3c02], // 1 + 3 * 2^-11: tie -> even (0x3c02)
      [0x7f800000, 0x7c00], // +inf
      [0xff800000, 0xfc00], // -inf
      [0x7fc00000, 0x7e00], // the canonical quiet NaN
      [0xffa00001, 0xfe00 | (0x200001 >>> 13)], // a negative signalling NaN comes back quiet
      [0x00000001, 0x0000], // the smallest float32 subnormal underflows to 0
    ];
    for (const [f32, f16] of cases) {
      expect(f32BitsToF16Bits(f32).toString(16), `f32 0x${f32.toString(16)}`).toBe(
        f16.toString(16),
      );
    }
  });

  it('widens all 65536 patterns exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const got = f16BitsToF32Bits(bits);
      const exponent = (bits >>> 10) & 0x1f;
      if (exponent === 0x1f) {
        const expected = (((bits & 0x8000) << 16) | 0x7f800000 | ((bits & 0x3ff) << 13)) >>> 0;
        expect(got, `pattern 0x${bits.toString(16)}`).toBe(expected);
      } else {
        expect(Object.is(f32FromBits(got), formulaValue(bits, 5, 10))).toBe(true);
      }
    }
  });

  it('round-trips every pattern except signalling NaNs, which come back quiet', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const back = f32BitsToF16Bits(f16BitsToF32Bits(bits));
      const signalling = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0 && !(bits & 0x200);
      expect(back, `pattern 0x${bits.toString(16)}`).toBe(signalling ? bits | 0x200 : bits);
    }
  });

  it('rounds every float32 to the nearest binary16, ties to even', () => {
    const seed = 81_001;
    console.log(`float16 rounding property seed ${seed}`);
    // Random patterns, plus exact midpoints between neighbours and their float32 neighbours.
    const midpoints = fc.integer({ min: 0, max: 0x7bff }).chain((lo) => {
      f32View[0] = (f16Table[lo]! + f16Table[lo + 1]!) / 2;
      const mid = u32View[0]!;
      return fc.constantFrom(mid - 1, mid, mid + 1, (mid | 0x80000000) >>> 0);
    });
    const patterns = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), midpoints);
    fc.assert(
      fc.property(patterns, (bits) => {
        const got = f32BitsToF16Bits(bits);
        if (isF32NaN(bits)) return (got & 0x7c00) === 0x7c00 && (got & 0x3ff) !== 0;
        return got === nearestPattern(f16Table, f32FromBits(bits), (bits >>> 16) & 0x8000);
      }),
      { seed, numRuns: 20_000 },
    );
  });
});

describe('bfloat16', () => {
  it('matches hand-computed patterns', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f80], // 1
      [0x3f808000, 0x3f80], // tie -> even
      [0x3f818000, 0x3f82], // tie -> even (up)
      [0x3f808001, 0x3f81], // above the tie
      [0x7f7fffff, 0x7f80], // max float32 rounds to infinity
      [0x80000000, 0x8000], // -0
      [0x00010000, 0x0001], // a subnormal kept exactly
      [0x7f800001, 0x7fc0], // signalling NaN with a low payload: quiet, never infinity
      [0xffc12345, 0xffc1], // quiet NaN keeps its top payload bits
    ];
    for (const [f32, bf16] of cases) {
      expect(f32BitsToBf16Bits(f32).toString(16), `f32 0x${f32.toString(16)}`).toBe(
        bf16.toString(16),
      );
    }
  });

  it('widens all 65536 patterns exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const got = bf16BitsToF32Bits(bits);
      const exponent = (bits >>> 7) & 0xff;
      if (exponent === 0xff) {
        expect(got).toBe(((bits & 0x8000) * 0x10000 + 0x7f800000 + (bits & 0x7f) * 0x10000) >>> 0);
      } else {
        expect(Object.is(f32FromBits(got), formulaValue(bits, 8, 7))).toBe(true);
      }
    }
  });

  it('round-trips every pattern except signalling NaNs, which come back quiet', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const back = f32BitsToBf16Bits(bf16BitsToF32Bits(bits));
      const signalling = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0 && !(bits & 0x40);
      expect(back, `pattern 0x${bits.toString(16)}`).toBe(signalling ? bits | 0x40 : bits);
    }
  });

  it('rounds every float32 to the nearest bfloat16, ties to even', () => {
    const seed = 81_002;
    console.log(`bfloat16 rounding property seed ${seed}`);
    const ties = fc
      .integer({ min: 0, max: 0xffff })
      .map((high) => ((high << 16) | 0x8000) >>> 0)
      .filter((bits) => !isF32NaN(bits) && (bits & 0x7f800000) !== 0x7f800000);
    const patterns = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), ties);
    fc.assert(
      fc.property(patterns, (bits) => {
        const got = f32BitsToBf16Bits(bits);
        if (isF32NaN(bits)) return (got & 0x7f80) === 0x7f80 && (got & 0x7f) !== 0;
        return got === nearestPattern(bf16Table, f32FromBits(bits), (bits >>> 16) & 0x8000);
      }),
      { seed, numRuns: 20_000 },
    );
  });
});

describe('packTensor / unpackTensor', () => {
  it('lays out little-endian bytes', () => {
    const values = new Float32Array([1, -2]);
    expect([...packTensor(values, 'F32')]).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect([...packTensor(values, 'F16')]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    expect([...packTensor(values, 'BF16')]).toEqual([0x80, 0x3f, 0x00, 0xc0]);
  });

  it('round-trips float32 bit patterns exactly, NaN payloads included', () => {
    const seed = 81_003;
    console.log(`float32 packing property seed ${seed}`);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 64 }), (words) => {
        const values = new Float32Array(new Uint32Array(words).buffer);
        const back = unpackTensor(packTensor(values, 'F32'), 'F32');
        return [...new Uint32Array(back.buffer)].every((bits, i) => bits === words[i]);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('reads from an unaligned offset of a larger buffer', () => {
    const bytes = new Uint8Array(9);
    bytes.set([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0], 1);
    expect([...unpackTensor(bytes.subarray(1), 'F32')]).toEqual([1, -2]);
    expect([...unpackTensor(bytes.subarray(1, 5), 'F16')]).toEqual([0, 1.875]);
  });

  it('rejects a byte length that is not whole elements', () => {
    expect(() => unpackTensor(new Uint8Array(3), 'F16')).toThrow(RangeError);
  });
});
