// The safetensors reader refuses every file whose header does not describe its
// data exactly: offsets are integers, tensors tile the data section without
// gaps or overlaps, byte counts match dtype × shape, dtypes are what the
// model's tensors need, names cannot reach Object.prototype. Every refusal is
// a LaxrayError CHECKPOINT_ERROR naming the tensor, never a RangeError.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../lib/errors.js';
import { encodeSafetensors, parseSafetensors, readSafetensors, MAX_HEADER_BYTES, type TensorMap } from '../lib/checkpoint/safetensors.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('safetensors');

/** A safetensors file from a header object (serialised as is) and data bytes. */
function rawFile(header: unknown, data: Uint8Array | number[]): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return out;
}

const f32 = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

function refused(t: import('ava').ExecutionContext, bytes: Uint8Array, message: RegExp): void {
  const error = t.throws(() => parseSafetensors(bytes, 'w.safetensors'), { instanceOf: LaxrayError });
  t.is(error!.code, 'CHECKPOINT_ERROR');
  t.regex(error!.message, message);
}

test('a file we write reads back bit for bit, num_batches_tracked as an integer', (t) => {
  const tensors: TensorMap = {
    'a.weight': { data: Float32Array.from([1.5, -2, 3.25, 0]), shape: [2, 2] },
    'bn.num_batches_tracked': { data: Int32Array.from([7]), shape: [] },
    'empty.bias': { data: new Float32Array(0), shape: [0] },
  };
  const back = parseSafetensors(encodeSafetensors(tensors, { note: 'x' }));
  t.deepEqual(back.metadata, { note: 'x' });
  t.deepEqual(Array.from(back.tensors['a.weight']!.data), [1.5, -2, 3.25, 0]);
  t.deepEqual(back.tensors['a.weight']!.shape, [2, 2]);
  t.true(back.tensors['bn.num_batches_tracked']!.data instanceof Int32Array);
  t.deepEqual(Array.from(back.tensors['bn.num_batches_tracked']!.data), [7]);
  t.is(back.tensors['empty.bias']!.data.length, 0);
});

test('offsets given as strings are refused (they were concatenated as text)', (t) => {
  refused(t, rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } }, f32(1, 2)), /'w'.*data_offsets.*integers/);
  refused(t, rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, '4'] }, v: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)), /'w'.*data_offsets.*integers/);
});

test('fractional, negative and reversed offsets are refused', (t) => {
  refused(t, rawFile({ w: { dtype: 'U8', shape: [2], data_offsets: [0.5, 2.5] } }, [1, 2, 3]), /'w'.*data_offsets.*integers/);
  refused(t, rawFile({ w: { dtype: 'U8', shape: [0], data_offsets: [-1, -1] } }, [1]), /'w'.*data_offsets/);
  refused(t, rawFile({ w: { dtype: 'U8', shape: [2], data_offsets: [2, 0] } }, [1, 2]), /'w'.*data_offsets/);
});

test('overlapping tensors and gaps in the data section are refused', (t) => {
  const overlap = rawFile(
    { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
    f32(1, 2, 3),
  );
  refused(t, overlap, /'b'.*overlaps 'a'/);
  const gap = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(1, 2, 3));
  refused(t, gap, /bytes 4\.\.8.*belong to no tensor/);
  const trailing = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1, 2));
  refused(t, trailing, /bytes 4\.\.8.*belong to no tensor/);
  const late = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2));
  refused(t, late, /bytes 0\.\.4.*belong to no tensor/);
});

test('byte counts must be exactly dtype size × shape', (t) => {
  refused(t, rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(1, 2)), /'w' \(F32 \[3\]\) needs 12 bytes.*8/);
  refused(t, rawFile({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, f32(1, 2)), /'w'.*shape/);
  refused(t, rawFile({ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, f32(1, 2)), /'w'.*shape/);
  // 2^27 × 2^27 elements: a byte count past 2^53 is refused before any arithmetic goes inexact
  refused(t, rawFile({ w: { dtype: 'F32', shape: [2 ** 27, 2 ** 27], data_offsets: [0, 8] } }, f32(1, 2)), /'w'.*(too large|needs)/);
});

test('integer data declared for a float parameter is refused; the reader says what the model needs', (t) => {
  // The model's tensors are float32 except BatchNorm's int64 counters.
  const i32 = new Uint8Array(Int32Array.from([1065353216, 0]).buffer); // 1.0f's bits as an int
  refused(t, rawFile({ 'head.conv.weight': { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, i32), /'head\.conv\.weight' is I32.*needs a floating-point/);
  refused(t, rawFile({ 'bn.num_batches_tracked': { dtype: 'F32', shape: [], data_offsets: [0, 4] } }, f32(3)), /'bn\.num_batches_tracked' is F32.*needs an integer/);
  refused(t, rawFile({ 'mask.weight': { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, [1]), /'mask\.weight' is BOOL/);
  // F16 / F64 / BF16 are floats: converted exactly to float32
  const half = rawFile({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, [0x00, 0x3c, 0x00, 0xc0]); // 1.0, -2.0
  t.deepEqual(Array.from(parseSafetensors(half).tensors.w!.data), [1, -2]);
  // a caller reading arbitrary tensors can switch the check off
  const ints = parseSafetensors(rawFile({ w: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, i32), 'x', { expectedKind: null });
  t.deepEqual(Array.from(ints.tensors.w!.data), [1065353216, 0]);
});

test('a tensor named __proto__ is refused and no name reaches Object.prototype', (t) => {
  refused(t, rawFile('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', f32(1)), /'__proto__'.*not allowed/);
  const ok = parseSafetensors(rawFile({ constructor: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(5)));
  t.is(Object.getPrototypeOf(ok.tensors), null);
  t.is(Object.getPrototypeOf(ok.metadata), null);
  t.deepEqual(Array.from(ok.tensors['constructor']!.data), [5]);
  t.is(({} as Record<string, unknown>).dtype, undefined);
});

test('metadata must map strings to strings', (t) => {
  refused(t, rawFile({ __metadata__: { config: { nested: 1 } } }, []), /__metadata__.*"config".*string/);
  refused(t, rawFile({ __metadata__: [1] }, []), /__metadata__.*object/);
});

test('header length limits: larger than the file, or past the limit, is refused before reading it', (t) => {
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(2n ** 63n, 0);
  refused(t, huge, /header (says|of)/);
  const tooLong = Buffer.alloc(16);
  tooLong.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES + 1), 0);
  refused(t, tooLong, /header/);
  refused(t, Buffer.from([1, 0, 0]), /too short/);
});

test('malformed headers: not JSON, not an object, entries of the wrong kind, deep nesting', (t) => {
  refused(t, rawFile('{"w": ', []), /not valid JSON/);
  refused(t, rawFile('[1, 2]', []), /not a JSON object/);
  refused(t, rawFile({ w: 5 }, []), /'w'.*object/);
  refused(t, rawFile({ w: { dtype: 'Q7', shape: [], data_offsets: [0, 0] } }, []), /'w'.*unsupported dtype.*Q7/);
  const deep = '{"w": {"dtype": "F32", "shape": ' + '['.repeat(100_000) + ']'.repeat(100_000) + ', "data_offsets": [0, 4]}}';
  refused(t, rawFile(deep, f32(1)), /'w'.*shape/);
  refused(t, rawFile({ 'bn.num_batches_tracked': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0, 1, 0, 0, 0]), /does not fit/);
});

test('readSafetensors on a folder or a missing file is a CHECKPOINT_ERROR naming it', async (t) => {
  const missing = await t.throwsAsync(readSafetensors(path.join(tmp, 'nope.safetensors')), { instanceOf: LaxrayError });
  t.is(missing!.code, 'CHECKPOINT_ERROR');
  t.regex(missing!.message, /nope\.safetensors/);
  const folder = await t.throwsAsync(readSafetensors(tmp), { instanceOf: LaxrayError });
  t.regex(folder!.message, /is a folder/);
  const file = path.join(tmp, 'ok.safetensors');
  writeFileSync(file, rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)));
  t.deepEqual(Array.from((await readSafetensors(file)).tensors.w!.data), [2]);
});
