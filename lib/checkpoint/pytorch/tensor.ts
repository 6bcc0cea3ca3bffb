// Tensors as torch.save describes them: a view (offset, shape, strides, all in
// elements) into a storage that several tensors may share. The unpickler makes
// references; materialise() copies a view out of its storage's bytes into a
// contiguous little-endian array, the form safetensors and laxray use.
import { LaxrayError } from '../../errors.js';
import { decodeTensorBytes, type NamedTensor } from '../safetensors.js';
import { ELEMENT_BYTES, type TorchDtype } from './dtypes.js';

/** A storage the pickle refers to by key; its bytes live elsewhere (a zip entry, a legacy record). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    /** Elements declared by the pickle. */
    readonly numel: number,
    readonly location: string,
    /** Elements before this storage in its root storage (legacy files' storage views), else 0. */
    readonly base = 0,
  ) {}

  get byteLength(): number {
    return this.numel * ELEMENT_BYTES[this.dtype];
  }
}

/** A tensor view; `dtype` may differ from the storage's only for an untyped (byte) storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: TorchDtype,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return this.numel * ELEMENT_BYTES[this.dtype];
  }
}

/** A tensor's values: contiguous, row-major, little-endian, in its own dtype. */
export interface RawTensor {
  dtype: TorchDtype;
  shape: number[];
  bytes: Uint8Array;
}

function fail(what: string, problem: string): never {
  throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
}

/**
 * Checks a view against its storage's declared size: non-negative integer
 * sizes and strides, and every element inside the storage. Returns the
 * storage bytes the view needs.
 */
export function checkView(ref: TensorRef, what: string, maxTensorBytes: number): number {
  const { shape, stride, offset } = ref;
  const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!shape.every(isCount) || !stride.every(isCount) || !isCount(offset) || shape.length !== stride.length) {
    fail(what, `invalid view: offset ${offset}, shape [${shape.join(', ')}], strides [${stride.join(', ')}]`);
  }
  const elementBytes = ELEMENT_BYTES[ref.dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  if (count * elementBytes > maxTensorBytes) {
    fail(what, `a ${ref.dtype} tensor of shape [${shape.join(', ')}] needs ${formatBytes(count * elementBytes)}, more than the limit of ${formatBytes(maxTensorBytes)}`);
  }
  if (count === 0) return 0;
  const lastElement = offset + shape.reduce((sum, size, d) => sum + (size - 1) * stride[d]!, 0);
  const needed = (lastElement + 1) * elementBytes;
  if (needed > ref.storage.byteLength) {
    fail(
      what,
      `the ${ref.dtype} view (offset ${offset}, shape [${shape.join(', ')}], strides [${stride.join(', ')}]) reaches byte ${needed} ` +
        `of storage '${ref.storage.key}', which declares ${ref.storage.byteLength} bytes (corrupt file)`,
    );
  }
  return needed;
}

/** Copies the view out of `storage` (the storage's bytes, in `littleEndian` order) into a contiguous little-endian array. */
export function materialise(ref: TensorRef, storage: Uint8Array, littleEndian: boolean): RawTensor {
  const elementBytes = ELEMENT_BYTES[ref.dtype];
  const shape = [...ref.shape];
  const count = ref.numel;
  const out = new Uint8Array(count * elementBytes);
  if (storage.length < ref.storage.byteLength) throw new Error(`storage '${ref.storage.key}' has ${storage.length} of its ${ref.storage.byteLength} bytes`); // callers check first
  if (count > 0) copyStrided(out, storage, ref, elementBytes);
  if (!littleEndian && elementBytes > 1) swapBytes(out, elementBytes);
  return { dtype: ref.dtype, shape, bytes: out };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/** Row-major gather, element by element in 1-, 2- or 4-byte words (8-byte elements as two words: bits are kept exactly). */
function copyStrided(out: Uint8Array, storage: Uint8Array, ref: TensorRef, elementBytes: number): void {
  const { offset } = ref;
  if (isContiguous(ref.shape, ref.stride)) {
    out.set(storage.subarray(offset * elementBytes, offset * elementBytes + out.length));
    return;
  }
  const { shape, stride } = collapse(ref.shape, ref.stride);
  const wordBytes = Math.min(elementBytes, 4);
  const words = elementBytes / wordBytes;
  const source = wordView(storage.byteOffset % wordBytes === 0 ? storage : storage.slice(), wordBytes);
  const target = wordView(out, wordBytes);
  const dims = shape.length;
  const inner = shape[dims - 1]!;
  const innerStride = stride[dims - 1]! * words;
  const index = new Array<number>(Math.max(dims - 1, 0)).fill(0);
  let base = offset * words; // source word of index [..., 0]
  for (let written = 0; written < target.length; ) {
    if (words === 1) {
      for (let i = 0, from = base; i < inner; i++, from += innerStride) target[written++] = source[from]!;
    } else {
      for (let i = 0, from = base; i < inner; i++, from += innerStride) {
        for (let w = 0; w < words; w++) target[written++] = source[from + w]!;
      }
    }
    // Odometer over the outer dimensions.
    for (let d = dims - 2; d >= 0; d--) {
      index[d]!++;
      base += stride[d]! * words;
      if (index[d]! < shape[d]!) break;
      base -= index[d]! * stride[d]! * words;
      index[d] = 0;
    }
  }
}

/** The same addressing with fewer dimensions: size-1 dimensions dropped, dimensions that step evenly into each other merged. */
function collapse(shape: readonly number[], stride: readonly number[]): { shape: number[]; stride: number[] } {
  const dims: [number, number][] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.at(-1);
    if (last !== undefined && last[1] === shape[d]! * stride[d]!) {
      last[0] *= shape[d]!;
      last[1] = stride[d]!;
    } else {
      dims.push([shape[d]!, stride[d]!]);
    }
  }
  if (dims.length === 0) dims.push([1, 1]);
  return { shape: dims.map(([size]) => size), stride: dims.map(([, step]) => step) };
}

function wordView(bytes: Uint8Array, wordBytes: number): Uint8Array | Uint16Array | Uint32Array {
  const length = Math.floor(bytes.byteLength / wordBytes);
  if (wordBytes === 4) return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
  if (wordBytes === 2) return new Uint16Array(bytes.buffer, bytes.byteOffset, length);
  return bytes;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let at = 0; at < bytes.length; at += width) bytes.subarray(at, at + width).reverse();
}

const SAFETENSORS_DTYPE: Partial<Record<TorchDtype, string>> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};

/** laxray's in-memory form: floats as float32, integers as int32 (range-checked), uint8/bool as bytes. */
export function toNamedTensor(raw: RawTensor, what: string): NamedTensor {
  const count = raw.shape.reduce((a, b) => a * b, 1);
  const buffer = Buffer.from(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
  const code = SAFETENSORS_DTYPE[raw.dtype];
  if (code !== undefined) return { data: decodeTensorBytes(buffer, code, count, what), shape: [...raw.shape] };
  // int8 / int16: widen to int32.
  const data = new Int32Array(count);
  for (let i = 0; i < count; i++) data[i] = raw.dtype === 'int8' ? buffer.readInt8(i) : buffer.readInt16LE(2 * i);
  return { data, shape: [...raw.shape] };
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}
