// The safetensors file format (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__: {string: string}}, then the raw
// little-endian tensor bytes. Files we write load in PyTorch with
// safetensors.torch.load_file; we read F32/F64/F16/BF16 as float32 and
// I64/I32/U8/BOOL as int32/uint8.
import { promises as fs } from 'node:fs';
import { LaxrayError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export type TensorArray = Float32Array | Int32Array | Uint8Array;

export interface NamedTensor {
  data: TensorArray;
  shape: number[];
}

export type TensorMap = Record<string, NamedTensor>;

export interface SafetensorsContents {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

const BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

function fail(what: string, problem: string): never {
  throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
}

export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new LaxrayError('CHECKPOINT_ERROR', `cannot read weights file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseSafetensors(bytes, file);
}

export function parseSafetensors(bytes: Uint8Array, what = 'safetensors data'): SafetensorsContents {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8) fail(what, `file is ${bytes.byteLength} bytes, too short for a safetensors header (truncated?)`);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) {
    fail(what, `header says ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the length (truncated or not safetensors)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'));
  } catch (err) {
    fail(what, `the header is not valid JSON (${(err as Error).message}); is this a safetensors file?`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(what, 'the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: TensorMap = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: string; shape?: number[]; data_offsets?: number[] };
    if (typeof dtype !== 'string' || !(dtype in BYTES)) fail(what, `tensor '${name}' has unsupported dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(what, `tensor '${name}' has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(what, `tensor '${name}' has no data_offsets`);
    const [begin, end] = offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]!) {
      fail(what, `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${count * BYTES[dtype]!} bytes but its offsets span ${end - begin}`);
    }
    if (begin < 0 || end > dataLength) fail(what, `tensor '${name}' lies beyond the end of the file (truncated: ${end} > ${dataLength} data bytes)`);
    // Copy: data may be unaligned, and the result must not pin the whole file.
    const raw = Buffer.from(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors[name] = { data: decode(raw, dtype, count, `${what}: tensor '${name}'`), shape: [...shape] };
  }
  return { tensors, metadata };
}

/** Raw little-endian bytes of a safetensors dtype (F32, F16, BF16, I64, ...) -> laxray's in-memory array (also used by the PyTorch reader). */
export function decodeTensorBytes(raw: Buffer, dtype: string, count: number, what: string): TensorArray {
  return decode(raw, dtype, count, what);
}

function decode(raw: Buffer, dtype: string, count: number, what: string): TensorArray {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(raw);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) fail(what, `int64 value ${v} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      new Uint8Array(out.buffer).set(raw);
      return out;
    }
    default: // U8, BOOL
      return new Uint8Array(raw);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Integer buffers PyTorch keeps as int64 (BatchNorm's counter): written as I64 so they load back as PyTorch made them. */
function isInt64Buffer(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const parts: { name: string; bytes: number; dtype: string }[] = [];
  for (const name of names) {
    const { data, shape } = tensors[name]!;
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new LaxrayError('CHECKPOINT_ERROR', `tensor '${name}': shape ${JSON.stringify(shape)} does not match ${data.length} values`);
    const dtype = data instanceof Float32Array ? 'F32' : data instanceof Int32Array ? (isInt64Buffer(name) ? 'I64' : 'I32') : 'U8';
    const bytes = count * BYTES[dtype]!;
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    parts.push({ name, bytes, dtype });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // align the data to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const { name, bytes, dtype } of parts) {
    const data = tensors[name]!.data;
    if (dtype === 'I64') {
      for (let i = 0; i < data.length; i++) out.writeBigInt64LE(BigInt(data[i]!), at + i * 8);
    } else {
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, at);
    }
    at += bytes;
  }
  return out;
}

/** Writes atomically (temp file + fsync + rename). */
export async function writeSafetensors(file: string, tensors: TensorMap, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
