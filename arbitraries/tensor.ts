/**
 * fast-check arbitraries of tensors as plain data (a shape and row-major float32 values), so they
 * serve codecs, operators and users' own tests without tying them to a tensor library. Values
 * come as float32 bit patterns, with the edge cases weighted in: ±0, subnormals, the extremes,
 * and (unless asked for finite values) ±infinity and NaNs with payloads.
 */
import fc from 'fast-check';

/** A tensor as plain data: `values.length` is the product of `shape`. */
export interface TensorData {
  shape: number[];
  values: Float32Array;
}

/**
 * What the values may be.
 * - `any`: every float32 bit pattern, NaN payloads and infinities included.
 * - `finite`: no NaN, no infinity (±0 and subnormals stay in).
 */
export type TensorValues = 'any' | 'finite';

/** A narrower dtype whose values the tensor's values must be exactly representable in. */
export type RepresentableIn = 'F32' | 'F16' | 'BF16';

export interface TensorConstraints {
  /** Number of dimensions. @defaultValue 1 to 3 */
  rank?: { min: number; max: number };
  /** Size of each dimension. @defaultValue 1 to 4 (0 allowed when asked: empty tensors) */
  dim?: { min: number; max: number };
  /** A fixed shape; overrides `rank` and `dim`. */
  shape?: readonly number[];
  /** @defaultValue 'any' */
  values?: TensorValues;
  /** Only values the dtype holds exactly (a float32 value of a binary16 or bfloat16). @defaultValue 'F32' */
  representableIn?: RepresentableIn;
}

/** Float32 bit patterns worth trying in every codec and operator. */
export const FLOAT32_EDGE_BITS = {
  finite: [
    0x00000000, // +0
    0x80000000, // -0
    0x00000001, // smallest subnormal
    0x807fffff, // largest subnormal, negative
    0x00800000, // smallest normal
    0x3f800000, // 1
    0xbf800000, // -1
    0x7f7fffff, // largest finite
    0xff7fffff, // most negative finite
    0x33800000, // 2^-24, the smallest binary16 subnormal
    0x477fe000, // 65504, the largest binary16
  ],
  nonFinite: [
    0x7f800000, // +infinity
    0xff800000, // -infinity
    0x7fc00000, // the canonical quiet NaN
    0x7fc00001, // quiet NaN with a payload
    0xffc12345, // negative quiet NaN with a payload
    0x7f800001, // signalling NaN
    0xffbfffff, // negative signalling NaN, all payload bits set
  ],
} as const;

const isFiniteBits = (bits: number): boolean => (bits & 0x7f800000) !== 0x7f800000;

/**
 * Float32 bit patterns (as unsigned 32-bit integers).
 * @example fc.sample(float32BitsArbitrary('finite'), 3) // e.g. [2147483648, 1065353216, 8388608]
 */
export function float32BitsArbitrary(values: TensorValues = 'any'): fc.Arbitrary<number> {
  const edges: number[] = [
    ...FLOAT32_EDGE_BITS.finite,
    ...(values === 'any' ? FLOAT32_EDGE_BITS.nonFinite : []),
  ];
  const anyPattern = fc.integer({ min: 0, max: 0xffffffff });
  // Small magnitudes, as activations mostly are: patterns of fc.float in [-8, 8].
  const moderate = fc
    .float({ min: -8, max: 8, noNaN: true })
    .map((x) => new Uint32Array(new Float32Array([x]).buffer)[0]!);
  return fc.oneof(
    { arbitrary: fc.constantFrom(...edges), weight: 1 },
    { arbitrary: moderate, weight: 2 },
    {
      arbitrary: values === 'any' ? anyPattern : anyPattern.filter(isFiniteBits),
      weight: 2,
    },
  );
}

/**
 * The float32 bit pattern of a binary16 pattern, computed by value (exact: every binary16 value
 * is a float32 value). Written independently of connectors/wire, which it is used to test.
 */
function float16ToFloat32Bits(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0x1f) {
    if (mantissa === 0) return sign > 0 ? 0x7f800000 : 0xff800000;
    // NaN: the payload sits in the top mantissa bits, as IEEE widening puts it.
    return (((half & 0x8000) << 16) | 0x7f800000 | (mantissa << 13)) >>> 0;
  }
  const magnitude =
    exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  const out = new Float32Array([sign * magnitude]);
  if (magnitude === 0) out[0] = sign > 0 ? 0 : -0;
  return new Uint32Array(out.buffer)[0]!;
}

/** 16-bit patterns worth trying, per dtype (the same roles as FLOAT32_EDGE_BITS). */
const NARROW_EDGE_BITS = {
  F16: {
    finite: [0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff],
    nonFinite: [0x7c00, 0xfc00, 0x7e00, 0x7e01, 0xfe15, 0x7c01],
  },
  BF16: {
    finite: [0x0000, 0x8000, 0x0001, 0x807f, 0x0080, 0x3f80, 0xbf80, 0x7f7f, 0xff7f],
    nonFinite: [0x7f80, 0xff80, 0x7fc0, 0x7fc1, 0xffd5, 0x7f81],
  },
} as const;

/**
 * Raw element bit patterns of a dtype: 32-bit for F32, 16-bit for F16 and BF16 (what a packed
 * tensor holds, little-endian, per element).
 * @example fc.sample(elementBitsArbitrary('F16', 'finite'), 2) // e.g. [15360, 32768]
 */
export function elementBitsArbitrary(
  dtype: RepresentableIn,
  values: TensorValues = 'any',
): fc.Arbitrary<number> {
  if (dtype === 'F32') return float32BitsArbitrary(values);
  const exponentMask = dtype === 'F16' ? 0x7c00 : 0x7f80;
  const isFinite16 = (h: number) => (h & exponentMask) !== exponentMask;
  const halfBits = fc.integer({ min: 0, max: 0xffff });
  const edges = NARROW_EDGE_BITS[dtype];
  return fc.oneof(
    {
      arbitrary: fc.constantFrom(...edges.finite, ...(values === 'any' ? edges.nonFinite : [])),
      weight: 1,
    },
    { arbitrary: values === 'any' ? halfBits : halfBits.filter(isFinite16), weight: 4 },
  );
}

/** The float32 bit pattern of the value a dtype's bit pattern stands for (exact). */
function widenBits(dtype: RepresentableIn, bits: number): number {
  if (dtype === 'F32') return bits;
  return dtype === 'F16' ? float16ToFloat32Bits(bits) : (bits << 16) >>> 0;
}

function shapeArbitrary(c: TensorConstraints): fc.Arbitrary<number[]> {
  if (c.shape !== undefined) return fc.constant([...c.shape]);
  const rank = c.rank ?? { min: 1, max: 3 };
  const dim = c.dim ?? { min: 1, max: 4 };
  return fc.array(fc.integer(dim), { minLength: rank.min, maxLength: rank.max });
}

/**
 * Tensors as `{ shape, values }`, values drawn as float32 bit patterns (so NaN payloads survive).
 * @example
 * fc.assert(fc.property(tensorArbitrary({ values: 'finite' }), ({ shape, values }) => {
 *   expect(values.length).toBe(shape.reduce((a, b) => a * b, 1));
 * }), { seed: 42 });
 */
export function tensorArbitrary(constraints: TensorConstraints = {}): fc.Arbitrary<TensorData> {
  const values = constraints.values ?? 'any';
  const dtype = constraints.representableIn ?? 'F32';
  const element = elementBitsArbitrary(dtype, values).map((bits) => widenBits(dtype, bits));
  return shapeArbitrary(constraints).chain((shape) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return fc
      .array(element, { minLength: count, maxLength: count })
      .map((bits) => ({ shape, values: new Float32Array(Uint32Array.from(bits).buffer) }));
  });
}

/**
 * The bit patterns of float32 values, for bit-exact comparisons (`Object.is` and `toEqual` on
 * numbers cannot tell NaN payloads apart).
 * @example float32Bits(new Float32Array([-0])) // [2147483648]
 */
export function float32Bits(values: Float32Array): number[] {
  return [...new Uint32Array(values.buffer, values.byteOffset, values.length)];
}
