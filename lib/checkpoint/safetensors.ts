// The safetensors file format (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__: {string: string}}, then the raw
// little-endian tensor bytes. Files we write load in PyTorch with
// safetensors.torch.load_file; we read F32/F64/F16/BF16 as float32 and
// I64/I32/U8/BOOL as int32/uint8.
//
// The reader is strict, as the format's reference implementation is: offsets
// are integers, the tensors tile the data section exactly (no gap, no overlap,
// nothing after the last one), each spans dtype size × shape bytes, and each
// tensor's dtype is of the kind the model needs (float parameters, integer
// counters). Anything else is a CHECKPOINT_ERROR naming the tensor: a file that
// does not describe its bytes exactly would load garbage weights silently.
import { promises as fs } from 'node:fs';
import { LaxrayError } from '../errors.js';
import { writeFileAtomic } from '../atomic_file.js';

export type TensorArray = Float32Array | Int32Array | Uint8Array;

export interface NamedTensor {
  data: TensorArray;
  shape: number[];
}

export type TensorMap = Record<string, NamedTensor>;

export interface SafetensorsContents {
  /** Null-prototype: a tensor name can never reach Object.prototype. */
  tensors: TensorMap;
  metadata: Record<string, string>;
}

/** What kind of numbers a tensor must hold: 'float' (F32/F64/F16/BF16) or 'int' (I64/I32). */
export type TensorKind = 'float' | 'int';

export interface ReadSafetensorsOptions {
  /**
   * The kind each tensor must have, by name (undefined: any). Default:
   * laxrayTensorKind, the model's own rule. null: no check (reading arbitrary tensors).
   */
  expectedKind?: ((name: string) => TensorKind | undefined) | null;
}

/**
 * The kind a laxray model (and a torchvision ResNet) keeps each tensor in:
 * BatchNorm's batch counter is int64, every parameter and other buffer is float32.
 */
export function laxrayTensorKind(name: string): TensorKind {
  return isInt64Buffer(name) ? 'int' : 'float';
}

/** The largest header accepted (as in the reference implementation): a longer one is not a weights file. */
export const MAX_HEADER_BYTES = 100_000_000;

const BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };
const KIND: Record<string, TensorKind | 'byte'> = { F32: 'float', F64: 'float', F16: 'float', BF16: 'float', I64: 'int', I32: 'int', U8: 'byte', BOOL: 'byte' };
const DTYPES = Object.keys(BYTES).join(', ');

function fail(what: string, problem: string): never {
  throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
}

export async function readSafetensors(file: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a .safetensors file' : (err as Error).message;
    throw new LaxrayError('CHECKPOINT_ERROR', `cannot read weights file ${file}: ${why}`, { cause: err });
  }
  return parseSafetensors(bytes, file, options);
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

export function parseSafetensors(bytes: Uint8Array, what = 'safetensors data', options: ReadSafetensorsOptions = {}): SafetensorsContents {
  const expectedKind = options.expectedKind === undefined ? laxrayTensorKind : options.expectedKind;
  if (bytes.byteLength < 8) fail(what, `file is ${bytes.byteLength} bytes, too short for a safetensors header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(what, `header of ${declared} bytes is larger than the ${MAX_HEADER_BYTES} a weights file has (not safetensors, or damaged)`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.byteLength) {
    fail(what, `header says ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the length (truncated or not safetensors)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'));
  } catch (err) {
    fail(what, `the header is not valid JSON (${(err as Error).message}); is this a safetensors file?`);
  }
  if (!isRecord(header)) fail(what, 'the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      readMetadata(value, what, metadata);
      continue;
    }
    const entry = readEntry(name, value, what);
    const need = expectedKind?.(name);
    const kind = KIND[entry.dtype];
    if (need !== undefined && kind !== need) {
      fail(what, `tensor '${name}' is ${entry.dtype} but the model needs ${need === 'float' ? 'a floating-point tensor (F32, F64, F16 or BF16)' : 'an integer tensor (I64 or I32)'} there; the file was not made for this model or is damaged`);
    }
    if (entry.end > dataLength) fail(what, `tensor '${name}' lies beyond the end of the file (truncated: ${entry.end} > ${dataLength} data bytes)`);
    entries.push(entry);
  }
  checkCoverage(entries, dataLength, what);
  const tensors: TensorMap = Object.create(null);
  for (const { name, dtype, shape, count, begin, end } of entries) {
    // Copy: data may be unaligned, and the result must not pin the whole file.
    const raw = Buffer.from(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors[name] = { data: decode(raw, dtype, count, `${what}: tensor '${name}'`), shape };
  }
  return { tensors, metadata };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readMetadata(value: unknown, what: string, out: Record<string, string>): void {
  if (!isRecord(value)) fail(what, '__metadata__ must be a JSON object of strings');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(what, `__metadata__ "${key.slice(0, 80)}" must be a string, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
    out[key] = v;
  }
}

function readEntry(name: string, value: unknown, what: string): Entry {
  const tensor = `tensor '${name.length > 200 ? `${name.slice(0, 200)}...` : name}'`;
  if (name === '__proto__') fail(what, `${tensor}: the name is not allowed (it would change the prototype of the tensor map); the file is not a weights file`);
  if (!isRecord(value)) fail(what, `${tensor} must be an object {dtype, shape, data_offsets}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype)) fail(what, `${tensor} has unsupported dtype ${typeof dtype === 'string' ? dtype.slice(0, 40) : typeof dtype}; laxray reads ${DTYPES}`);
  if (!Array.isArray(shape) || shape.length > 16 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(what, `${tensor} has an invalid shape: it must be a list of at most 16 integers ≥ 0`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(what, `${tensor} has invalid data_offsets: they must be two integers [begin, end] ≥ 0 (JSON numbers, not strings)`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(what, `${tensor} has data_offsets [${begin}, ${end}]: end before begin`);
  let count = 1;
  for (const d of shape as number[]) count *= d;
  const size = count * BYTES[dtype]!;
  if (!Number.isSafeInteger(size)) fail(what, `${tensor} (${dtype} ${JSON.stringify(shape)}) is too large to be a real tensor`);
  if (end - begin !== size) fail(what, `${tensor} (${dtype} ${JSON.stringify(shape)}) needs ${size} bytes but its offsets span ${end - begin}`);
  return { name, dtype, shape: [...(shape as number[])], count, begin, end };
}

/** The tensors must tile [0, dataLength) exactly, as the reference implementation requires. */
function checkCoverage(entries: Entry[], dataLength: number, what: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < at) fail(what, `tensor '${e.name}' (bytes ${e.begin}..${e.end}) overlaps '${previous!.name}' (bytes ${previous!.begin}..${previous!.end})`);
    if (e.begin > at) fail(what, `data bytes ${at}..${e.begin} belong to no tensor (a gap before '${e.name}'); the header does not describe the data`);
    at = e.end;
    if (e.end > e.begin || previous === undefined) previous = e;
  }
  if (at < dataLength) fail(what, `data bytes ${at}..${dataLength} belong to no tensor (after the last one); the header does not describe the data`);
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
