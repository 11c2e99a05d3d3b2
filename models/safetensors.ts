/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}`,
 * then the raw little-endian tensor bytes. Used for Hugging Face checkpoints, link weights and
 * trained weights.
 *
 * Floating dtypes decode to Float32Array (the precision we compute in), integer and bool dtypes to
 * Int32Array (TensorFlow.js has no 64-bit integers; out-of-range values are an error).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.ts';

export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** A decoded tensor: `dtype` is the dtype stored in the file, `data` what it decodes to. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Where a tensor's bytes are, before decoding: offsets into the data section (after the header). */
export interface SafetensorsEntryInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

/** A parsed header over the file's bytes; tensors decode one at a time with `read`. */
export interface SafetensorsView {
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsEntryInfo>;
  read(name: string): SafetensorsTensor;
}

/**
 * Parses the header and returns a view that decodes tensors on demand, so a loader can convert
 * a large checkpoint tensor by tensor instead of holding every decoded copy at once.
 *
 * @example
 * const view = openSafetensors(fs.readFileSync('model.safetensors'), { file: 'model.safetensors' });
 * const wq = view.read('model.layers.0.self_attn.q_proj.weight'); // { dtype: 'BF16', shape, data }
 */
export function openSafetensors(
  bytes: Uint8Array,
  options: { file?: string } = {},
): SafetensorsView {
  const file = options.file ?? '<safetensors bytes>';
  const headerLength = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const { metadata, entries } = parseSafetensorsHeader(
    bytes.subarray(8, 8 + headerLength),
    bytes.byteLength - 8 - headerLength,
    file,
  );
  const dataStart = 8 + headerLength;
  return {
    metadata,
    entries,
    read(name: string): SafetensorsTensor {
      const entry = entries.get(name);
      if (entry === undefined) {
        throw new ModelError('MISSING_WEIGHT', 'no tensor with this name', { file, field: name });
      }
      const start = dataStart + entry.byteOffset;
      const raw = bytes.subarray(start, start + entry.byteLength);
      return {
        dtype: entry.dtype,
        shape: [...entry.shape],
        data: decodeSafetensorsData(raw, entry.dtype, file, name),
      };
    },
  };
}

/** Reads the 8-byte little-endian header length and checks it fits in a file of `fileSize` bytes. */
export function safetensorsHeaderLength(
  first8: Uint8Array,
  fileSize: number,
  file: string,
): number {
  if (first8.byteLength < 8 || fileSize < 8) {
    throw new ModelError(
      'INVALID_SAFETENSORS',
      `file is ${fileSize} bytes, shorter than the 8-byte header length`,
      { file },
    );
  }
  const headerLength = Number(
    new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true),
  );
  if (headerLength > fileSize - 8) {
    throw new ModelError(
      'INVALID_SAFETENSORS',
      `header length ${headerLength} exceeds the file size ${fileSize}`,
      { file },
    );
  }
  return headerLength;
}

/**
 * Parses and validates the JSON header. Entry offsets are relative to the start of the data
 * section, which is `dataLength` bytes long.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  file: string,
): { metadata: Record<string, string>; entries: Map<string, SafetensorsEntryInfo> } {
  const fail = (message: string, field?: string): never => {
    throw new ModelError('INVALID_SAFETENSORS', message, { file, ...(field ? { field } : {}) });
  };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (cause) {
    throw new ModelError('INVALID_SAFETENSORS', 'header is not valid JSON', { file, cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntryInfo>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      for (const [key, text] of Object.entries((value ?? {}) as Record<string, unknown>)) {
        if (typeof text !== 'string') fail(`metadata value for "${key}" is not a string`, name);
        metadata[key] = text as string;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) {
      throw new ModelError(
        'UNSUPPORTED_DTYPE',
        `dtype ${JSON.stringify(dtype)} is not supported (expected one of ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`,
        { file, field: name },
      );
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail('shape is not a list of non-negative integers', name);
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[0] > offsets[1] ||
      offsets[1] > dataLength
    ) {
      fail(
        `data_offsets ${JSON.stringify(offsets)} are outside the data (${dataLength} bytes)`,
        name,
      );
    }
    const [begin, end] = offsets as [number, number];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = size * BYTES_PER_ELEMENT[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(
        `holds ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${expected}`,
        name,
      );
    }
    entries.set(name, {
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      byteOffset: begin,
      byteLength: expected,
    });
  }
  return { metadata, entries };
}

/**
 * Reads every tensor of a safetensors file.
 *
 * @example
 * const { tensors, metadata } = readSafetensors(fs.readFileSync('link.safetensors'));
 * tensors.get('proj1.weight'); // { dtype: 'F32', shape: [128, 256], data: Float32Array }
 */
export function readSafetensors(
  bytes: Uint8Array,
  options: { file?: string } = {},
): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const view = openSafetensors(bytes, options);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const name of view.entries.keys()) tensors.set(name, view.read(name));
  return { tensors, metadata: view.metadata };
}

/** A tensor to write. `dtype` defaults to F32 for float data, I32 for Int32Array, U8 for Uint8Array. */
export interface SafetensorsEntry {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  dtype?: 'F32' | 'F16' | 'BF16' | 'I32' | 'U8' | 'BOOL';
}

/**
 * Serialises tensors to safetensors bytes, in the given order. Float data can be stored as F16 or
 * BF16 (rounded to nearest even, as PyTorch does).
 *
 * @example
 * const bytes = writeSafetensors({ 'w': { shape: [2], data: new Float32Array([1, 2]) } }, { format: 'pt' });
 * fs.writeFileSync('w.safetensors', bytes);
 */
export function writeSafetensors(
  entries: Map<string, SafetensorsEntry> | Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = entries instanceof Map ? [...entries] : Object.entries(entries);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  const encoded: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of list) {
    const dtype = entry.dtype ?? defaultDtype(entry.data);
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (size !== entry.data.length) {
      throw new ModelError(
        'SHAPE_MISMATCH',
        `shape ${JSON.stringify(entry.shape)} has ${size} elements but data has ${entry.data.length}`,
        { field: name },
      );
    }
    const bytes = encode(entry.data, dtype, name);
    header[name] = { dtype, shape: entry.shape, data_offsets: [offset, offset + bytes.byteLength] };
    encoded.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  const jsonBytesLength = new TextEncoder().encode(json).byteLength;
  json += ' '.repeat((8 - (jsonBytesLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const bytes of encoded) {
    out.set(bytes, position);
    position += bytes.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors file into TensorFlow.js tensors (float dtypes as float32, the rest int32).
 * The caller owns the returned tensors.
 *
 * @example
 * const weights = tensorsFromSafetensors(bytes);
 * weights.get('proj1.weight')!.shape; // [128, 256]
 */
export function tensorsFromSafetensors(
  bytes: Uint8Array,
  options: { file?: string } = {},
): Map<string, tf.Tensor> {
  const view = openSafetensors(bytes, options);
  const out = new Map<string, tf.Tensor>();
  for (const name of view.entries.keys()) {
    const { shape, data } = view.read(name);
    out.set(name, tf.tensor(data, shape, data instanceof Float32Array ? 'float32' : 'int32'));
  }
  return out;
}

/**
 * Serialises TensorFlow.js tensors (float32 or int32; bool is stored as BOOL) without disposing
 * them. `dtype` chooses how float tensors are stored.
 *
 * @example
 * const bytes = await safetensorsFromTensors({ 'proj1.weight': w }, { metadata: { format: 'pt' } });
 */
export async function safetensorsFromTensors(
  tensors: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  options: { dtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string> } = {},
): Promise<Uint8Array> {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, tensor] of list) {
    entries.set(name, toEntry(tensor, await tensor.data(), options.dtype));
  }
  return writeSafetensors(entries, options.metadata);
}

/** Synchronous `safetensorsFromTensors` (reads tensor data with dataSync). */
export function safetensorsFromTensorsSync(
  tensors: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  options: { dtype?: 'F32' | 'F16' | 'BF16'; metadata?: Record<string, string> } = {},
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, tensor] of list)
    entries.set(name, toEntry(tensor, tensor.dataSync(), options.dtype));
  return writeSafetensors(entries, options.metadata);
}

function toEntry(
  tensor: tf.Tensor,
  data: tf.DataTypeMap[tf.NumericDataType] | Uint8Array,
  floatDtype: 'F32' | 'F16' | 'BF16' = 'F32',
): SafetensorsEntry {
  if (tensor.dtype === 'float32') {
    return { shape: tensor.shape, data: data as Float32Array, dtype: floatDtype };
  }
  if (tensor.dtype === 'bool') {
    return { shape: tensor.shape, data: Uint8Array.from(data as ArrayLike<number>), dtype: 'BOOL' };
  }
  if (tensor.dtype === 'int32')
    return { shape: tensor.shape, data: data as Int32Array, dtype: 'I32' };
  throw new ModelError('UNSUPPORTED_DTYPE', `cannot store a ${tensor.dtype} tensor`);
}

function defaultDtype(data: SafetensorsEntry['data']): NonNullable<SafetensorsEntry['dtype']> {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

function encode(
  data: SafetensorsEntry['data'],
  dtype: NonNullable<SafetensorsEntry['dtype']>,
  name: string,
): Uint8Array {
  const isFloat = data instanceof Float32Array;
  if ((dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') !== isFloat) {
    throw new ModelError('UNSUPPORTED_DTYPE', `cannot store ${data.constructor.name} as ${dtype}`, {
      field: name,
    });
  }
  switch (dtype) {
    case 'F32':
    case 'I32':
      return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    case 'F16': {
      const out = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) out[i] = float32ToFloat16Bits(data[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      const bits = new Uint32Array(
        (data as Float32Array).buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      );
      const out = new Uint16Array(data.length);
      for (let i = 0; i < bits.length; i++) out[i] = float32BitsToBfloat16Bits(bits[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'U8':
    case 'BOOL':
      return Uint8Array.from(data, (v) => v);
  }
}

/** Decodes one tensor's raw little-endian bytes (floats to Float32Array, integers to Int32Array). */
export function decodeSafetensorsData(
  raw: Uint8Array,
  dtype: SafetensorsDtype,
  file: string,
  name: string,
): Float32Array | Int32Array {
  // Copy into a fresh, aligned buffer: typed-array views need aligned offsets.
  // (new Uint8Array(raw) copies; Buffer#slice would not.)
  const buffer = new Uint8Array(raw).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer);
    case 'F64':
      return Float32Array.from(new Float64Array(buffer));
    case 'F16': {
      const half = new Uint16Array(buffer);
      const out = new Float32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = float16BitsToFloat32(half[i]!);
      return out;
    }
    case 'BF16': {
      const half = new Uint16Array(buffer);
      const bits = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) bits[i] = half[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I32':
      return new Int32Array(buffer);
    case 'I16':
      return Int32Array.from(new Int16Array(buffer));
    case 'I8':
      return Int32Array.from(new Int8Array(buffer));
    case 'U16':
      return Int32Array.from(new Uint16Array(buffer));
    case 'U8':
    case 'BOOL':
      return Int32Array.from(new Uint8Array(buffer));
    case 'U32':
    case 'I64':
    case 'U64': {
      const wide =
        dtype === 'U32'
          ? new Uint32Array(buffer)
          : dtype === 'I64'
            ? new BigInt64Array(buffer)
            : new BigUint64Array(buffer);
      const out = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const value = Number(wide[i]!);
        if (value < -2147483648 || value > 2147483647) {
          throw new ModelError(
            'UNSUPPORTED_DTYPE',
            `${dtype} value ${wide[i]} at index ${i} does not fit in int32`,
            {
              file,
              field: name,
            },
          );
        }
        out[i] = value;
      }
      return out;
    }
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half -> float32 (exact). */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float32 -> IEEE half bits, rounding to nearest even (overflow goes to infinity). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in and round.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const halfValue = mantissa >> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const rounded =
      remainder > halfway || (remainder === halfway && (halfValue & 1) === 1)
        ? halfValue + 1
        : halfValue;
    return sign | rounded;
  }
  const halfValue = (e << 10) | (mantissa >> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches infinity at the top).
  if (remainder > 0x1000 || (remainder === 0x1000 && (halfValue & 1) === 1))
    return sign | (halfValue + 1);
  return sign | halfValue;
}

function float32BitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0)
    return ((bits >>> 16) | 0x40) & 0xffff;
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}
