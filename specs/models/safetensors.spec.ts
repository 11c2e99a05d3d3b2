import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../models/errors.ts';
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  openSafetensors,
  readSafetensors,
  safetensorsFromTensors,
  tensorsFromSafetensors,
  writeSafetensors,
} from '../../models/safetensors.ts';

/** Builds a safetensors file by hand, the way the format's spec describes it. */
function handMade(header: object, data: number[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  out[0] = json.length & 0xff;
  out[1] = (json.length >> 8) & 0xff;
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('readSafetensors', () => {
  it('decodes F32, F16, BF16 and I64 tensors from hand-written bytes', () => {
    const bytes = handMade(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        h: { dtype: 'F16', shape: [3], data_offsets: [8, 14] },
        b: { dtype: 'BF16', shape: [1, 2], data_offsets: [14, 18] },
        i: { dtype: 'I64', shape: [], data_offsets: [18, 26] },
      },
      [
        // F32 1.5 = 0x3fc00000, -2 = 0xc0000000 (little-endian)
        0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,
        // F16 1 = 0x3c00, -2 = 0xc000, smallest subnormal 2^-24 = 0x0001
        0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00,
        // BF16 1 = 0x3f80, 0.5 = 0x3f00
        0x80, 0x3f, 0x00, 0x3f,
        // I64 -3
        0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      ],
    );
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.get('a')!.data]).toEqual([1.5, -2]);
    expect([...tensors.get('h')!.data]).toEqual([1, -2, 2 ** -24]);
    expect(tensors.get('b')).toEqual({
      dtype: 'BF16',
      shape: [1, 2],
      data: new Float32Array([1, 0.5]),
    });
    expect(tensors.get('i')).toEqual({ dtype: 'I64', shape: [], data: new Int32Array([-3]) });
  });

  it('names the file and tensor when the header is wrong', () => {
    const badDtype = handMade({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0]);
    expect(() => readSafetensors(badDtype, { file: 'x.safetensors' })).toThrowError(
      expect.objectContaining({ code: 'UNSUPPORTED_DTYPE', file: 'x.safetensors', field: 'w' }),
    );
    const badSize = handMade(
      { w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } },
      [0, 0, 0, 0],
    );
    expect(() => readSafetensors(badSize, { file: 'y' })).toThrowError(ModelError);
    expect(() => readSafetensors(badSize, { file: 'y' })).toThrowError(/y: w: holds 4 bytes/);
    expect(() => readSafetensors(new Uint8Array(3))).toThrowError(
      expect.objectContaining({ code: 'INVALID_SAFETENSORS' }),
    );
    expect(() => openSafetensors(handMade({}, [])).read('nope')).toThrowError(
      expect.objectContaining({ code: 'MISSING_WEIGHT', field: 'nope' }),
    );
  });
});

describe('writeSafetensors', () => {
  it('writes the layout of the format: length, space-padded JSON header, aligned data', () => {
    const bytes = writeSafetensors(
      { w: { shape: [2], data: new Float32Array([1.5, -2]) } },
      { k: 'v' },
    );
    const headerLength = bytes[0]! | (bytes[1]! << 8);
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header).toEqual({
      __metadata__: { k: 'v' },
      w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    });
    expect([...bytes.subarray(8 + headerLength)]).toEqual([0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]);
  });

  it('round-trips f32 exactly and rounds f16/bf16 to nearest even', () => {
    const values = new Float32Array([0, -0, 1, 1 / 3, -65504, 1e-7, 3.1, 70000]);
    const bytes = writeSafetensors(
      new Map([
        ['f32', { shape: [8], data: values }],
        ['f16', { shape: [2, 4], data: values, dtype: 'F16' as const }],
        ['bf16', { shape: [8], data: values, dtype: 'BF16' as const }],
        ['ids', { shape: [3], data: new Int32Array([7, -1, 2 ** 30]) }],
      ]),
    );
    const { tensors } = readSafetensors(bytes);
    expect(tensors.get('f32')!.data).toEqual(values);
    // f16: 1/3 -> 0x3555 = 0.333251953125; 1e-7 -> subnormal 2 * 2^-24; 3.1 -> 0x4234 = 3.099609375;
    // 70000 overflows to infinity.
    expect([...tensors.get('f16')!.data]).toEqual([
      0,
      -0,
      1,
      0.333251953125,
      -65504,
      2 * 2 ** -24,
      3.099609375,
      Number.POSITIVE_INFINITY,
    ]);
    // bf16 keeps 8 mantissa bits: 1/3 -> 0x3eab = 0.333984375; 3.1 -> 0x4046 = 3.09375;
    // 70000 -> 0x4789 = 70144.
    const bf16 = tensors.get('bf16')!.data;
    expect(bf16[3]).toBe(0.333984375);
    expect(bf16[6]).toBe(3.09375);
    expect(bf16[7]).toBe(70144);
    expect([...tensors.get('ids')!.data]).toEqual([7, -1, 2 ** 30]);
  });

  it('f16 conversion agrees with hand-computed bit patterns', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // halfway to the next power rounds to inf
    expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // exactly half the smallest subnormal: ties to even
    expect(float32ToFloat16Bits(1.5 * 2 ** -24)).toBe(2); // 1.5 ulps ties to even (2)
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x3555)).toBe(0.333251953125);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });
});

describe('tf tensor helpers', () => {
  it('round-trips tensors and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const w = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const ids = tf.tensor1d([5, 6], 'int32');
    const bytes = await safetensorsFromTensors({ w, ids }, { metadata: { format: 'pt' } });
    const back = tensorsFromSafetensors(bytes);
    expect(back.get('w')!.shape).toEqual([2, 2]);
    expect(back.get('w')!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(back.get('ids')!.dtype).toBe('int32');
    expect(back.get('ids')!.arraySync()).toEqual([5, 6]);
    tf.dispose([w, ids, ...back.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
