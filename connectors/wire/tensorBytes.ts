/**
 * Packing of tensor data for the wire: little-endian float32, float16 (IEEE binary16) and
 * bfloat16, converted with round-to-nearest-even.
 *
 * Everything works on bit patterns (Uint32Array / Uint16Array views), never on JS numbers,
 * because a float32 NaN read into a JS number and written back may lose its payload.
 *
 * NaN rules:
 * - f16 -> f32 and bf16 -> f32 are exact: every bit pattern, NaN payloads included, maps to
 *   one float32 pattern and back.
 * - f32 -> f16 and f32 -> bf16 keep the sign and the top payload bits of a NaN and set the quiet
 *   bit, so a NaN never turns into an infinity. Consequence: f16 -> f32 -> f16 (and the bf16 trip)
 *   is the identity on every pattern except signalling NaNs, which come back quiet.
 * - f32 bytes round trips are bit-exact for every pattern.
 */

/** Element type of packed tensor data (the `DType` enum of latent_state.proto). */
export type TensorDType = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each dtype. */
export const bytesPerElement: Readonly<Record<TensorDType, number>> = { F32: 4, F16: 2, BF16: 2 };

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Rounds a float32 bit pattern to the nearest binary16 bit pattern (ties to even).
 *
 * @example f32BitsToF16Bits(0x3f800000) // 1.0 -> 0x3c00
 */
export function f32BitsToF16Bits(f32Bits: number): number {
  const sign = (f32Bits >>> 16) & 0x8000;
  const exponent = (f32Bits >>> 23) & 0xff;
  const mantissa = f32Bits & 0x7fffff;
  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00;
    return sign | 0x7e00 | (mantissa >>> 13);
  }
  // Binary16 exponents span 2^-14..2^15; float32 biased exponent 113 is 2^-14.
  if (exponent > 142) return sign | 0x7c00;
  if (exponent >= 113) {
    let half = ((exponent - 112) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    // A carry out of the mantissa bumps the exponent, up to 0x7c00 (infinity): that is correct.
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
    return sign | half;
  }
  // Below 2^-14: a binary16 subnormal counts units of 2^-24. Float32 subnormals are far below.
  if (exponent < 102) return sign;
  const significand = mantissa | 0x800000;
  const shift = 126 - exponent; // 14..24
  let half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const midpoint = 1 << (shift - 1);
  if (rest > midpoint || (rest === midpoint && (half & 1) === 1)) half++;
  return sign | half;
}

/**
 * Widens a binary16 bit pattern to the float32 bit pattern of the same value (exact).
 *
 * @example f16BitsToF32Bits(0x3c00) // 0x3f800000 (1.0)
 */
export function f16BitsToF32Bits(f16Bits: number): number {
  const sign = (f16Bits & 0x8000) << 16;
  const exponent = (f16Bits >>> 10) & 0x1f;
  let mantissa = f16Bits & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal: normalise so the leading one becomes the implicit bit.
  let shifts = 0;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    shifts++;
  }
  return (sign | ((113 - shifts) << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/**
 * Rounds a float32 bit pattern to the nearest bfloat16 bit pattern (ties to even).
 *
 * @example f32BitsToBf16Bits(0x3f808000) // 1.00390625, a tie -> 0x3f80 (even)
 */
export function f32BitsToBf16Bits(f32Bits: number): number {
  const isNotANumber = (f32Bits & 0x7f800000) === 0x7f800000 && (f32Bits & 0x7fffff) !== 0;
  if (isNotANumber) return (f32Bits >>> 16) | 0x0040;
  const lowestKeptBit = (f32Bits >>> 16) & 1;
  // Overflow past the largest finite value lands on the infinity pattern, as it should.
  return ((f32Bits + 0x7fff + lowestKeptBit) >>> 16) & 0xffff;
}

/**
 * Widens a bfloat16 bit pattern to float32 (exact: bfloat16 is the top half of a float32).
 *
 * @example bf16BitsToF32Bits(0x3f80) // 0x3f800000 (1.0)
 */
export function bf16BitsToF32Bits(bf16Bits: number): number {
  return (bf16Bits << 16) >>> 0;
}

/**
 * Packs float32 values into little-endian bytes of the given dtype (rounding to nearest even
 * for F16 and BF16).
 *
 * @example packTensor(new Float32Array([1, -2]), 'F16') // Uint8Array [0x00, 0x3c, 0x00, 0xc0]
 */
export function packTensor(values: Float32Array, dtype: TensorDType): Uint8Array {
  const sourceBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (dtype === 'F32') {
    const out = new Uint8Array(values.length * 4);
    if (hostIsLittleEndian) {
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    } else {
      const view = new DataView(out.buffer);
      for (let i = 0; i < sourceBits.length; i++) view.setUint32(i * 4, sourceBits[i]!, true);
    }
    return out;
  }
  const narrow = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < sourceBits.length; i++) {
    const bits = narrow(sourceBits[i]!);
    out[2 * i] = bits & 0xff;
    out[2 * i + 1] = bits >>> 8;
  }
  return out;
}

/**
 * Unpacks little-endian bytes of the given dtype into float32 values (exact). The byte length
 * must be a whole number of elements; callers validate shapes first (see `validateLatentState`).
 *
 * @example unpackTensor(new Uint8Array([0x00, 0x3c]), 'F16') // Float32Array [1]
 */
export function unpackTensor(bytes: Uint8Array, dtype: TensorDType): Float32Array {
  const width = bytesPerElement[dtype];
  if (bytes.length % width !== 0) {
    throw new RangeError(`${bytes.length} bytes is not a whole number of ${dtype} elements`);
  }
  const count = bytes.length / width;
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    if (hostIsLittleEndian) {
      // Copy rather than view: the source may sit at an unaligned offset of a larger buffer.
      new Uint8Array(out.buffer).set(bytes);
    } else {
      const outBits = new Uint32Array(out.buffer);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) outBits[i] = view.getUint32(i * 4, true);
    }
    return out;
  }
  const widen = dtype === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits;
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) {
    outBits[i] = widen(bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
  }
  return out;
}
