// Hostile and broken PyTorch files (test/fixtures/pytorch/hostile, written
// byte by byte by make_fixtures.py): each is refused with a CHECKPOINT_ERROR
// that names the problem, nothing in them runs (the marker file the payloads
// would create never appears), and the process carries on. Plus the unpickler's
// own rules on hand-assembled pickles.
import test from 'ava';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readWeights } from '../lib/checkpoint/weights.js';
import { openTorchCheckpoint, DEFAULT_TORCH_LIMITS } from '../lib/checkpoint/pytorch/reader.js';
import { PyDict, PySet, PyTuple, unpickle, type UnpicklerPolicy } from '../lib/checkpoint/pytorch/unpickler.js';
import { LaxrayError } from '../lib/errors.js';
import { fixture } from './helpers/paths.js';

const fixtures = fixture('pytorch');
const hostile = (name: string) => path.join(fixtures, 'hostile', name);
// What the payloads would create (make_fixtures.py: MARKER).
const MARKER = '/tmp/laxray-hostile-pickle-ran';

test.before(() => rmSync(MARKER, { force: true }));

const REFUSED: Array<[string, RegExp]> = [
  ['os_system.pth', /refused: the pickle references os\.system, which is not part of a tensor state dict/],
  ['builtins_eval.pth', /refused: the pickle references builtins\.eval/],
  ['subprocess_popen.pth', /refused: the pickle references subprocess\.Popen/],
  ['os_system_in_meta.pth', /refused: the pickle references os\.system/],
  ['pickled_module.pth', /torchvision\.models\.resnet\.ResNet.*whole pickled model \(torch\.save\(model\)\); save model\.state_dict\(\)/],
  ['plain_pickle.pkl', /not a weights file laxray reads.*looks like a plain pickle, not torch\.save output/],
  ['truncated.pth', /not a readable zip archive \(End of central directory record signature not found.*truncated or corrupt/],
  ['truncated_legacy.pth', /storage '\d+' declares \d+ elements, beyond the end of the file \(truncated or corrupt file\)/],
  ['short_storage.pth', /entry archive\/data\/0 holds 40 bytes but the pickle declares 400 for it/],
  ['view_outside_storage.pth', /tensor 'w': the float32 view \(offset 0, shape \[10, 10\], strides \[10, 1\]\) reaches byte 400 of storage '0', which declares 200 bytes/],
  ['declared_10gb.pth', /storage '0' declares 2684354560 float32 elements \(10\.0 GiB\), more than the limit of 2\.0 GiB per storage/],
  ['huge_view.pth', /tensor 'w': a float32 tensor of shape \[1048576, 1048576\] needs 4096\.0 GiB, more than the limit/],
  ['deep_marks.pth', /pickle nests deeper than 1000 levels/],
  ['deep_lists.pth', /no state dict found: expected a dict of tensors.*the file holds a list of 1/],
  ['zip_bomb.pth', /cannot read entry archive\/data\/0: too many bytes in the stream/],
];

for (const [file, message] of REFUSED) {
  test(`${file} is refused with a clear CHECKPOINT_ERROR and runs nothing`, async (t) => {
    const error = await t.throwsAsync(readWeights(hostile(file)), { instanceOf: LaxrayError });
    t.is(error!.code, 'CHECKPOINT_ERROR');
    t.regex(error!.message, message);
    t.true(error!.message.includes(file), 'the message names the file');
    t.false(existsSync(MARKER), 'no payload ran');
  });
}

test.after.always('nothing any hostile file asked for happened', (t) => {
  t.false(existsSync(MARKER));
});

test('limits are configurable: a 16-entry archive is refused under maxEntries 3', async (t) => {
  const error = await t.throwsAsync(openTorchCheckpoint(path.join(fixtures, 'views.pth'), 'zip', { ...DEFAULT_TORCH_LIMITS, maxEntries: 3 }), { instanceOf: LaxrayError });
  t.regex(error!.message, /the archive declares \d+ entries, more than the limit of 3/);
  const pickle = await t.throwsAsync(openTorchCheckpoint(path.join(fixtures, 'views.pth'), 'zip', { ...DEFAULT_TORCH_LIMITS, maxPickleBytes: 100 }), { instanceOf: LaxrayError });
  t.regex(pickle!.message, /entry views\/data\.pkl is \d+ bytes uncompressed, more than the limit of 100 bytes/);
});

// ---------------------------------------------------------------- the unpickler on hand-assembled pickles

/** Only plain data: any global, call or persistent id is refused. */
const plain: UnpicklerPolicy = {
  findGlobal: (module, name) => {
    throw new LaxrayError('CHECKPOINT_ERROR', `global ${module}.${name} refused`);
  },
  call: () => {
    throw new Error('never called');
  },
  build: () => {
    throw new Error('never called');
  },
  persistentLoad: () => {
    throw new Error('never called');
  },
};

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

test('protocol 0 text opcodes: INT, LONG, FLOAT, STRING, UNICODE, DICT, LIST, TUPLE, PUT/GET', (t) => {
  // {'a': [1, 12345678901234567890, 2.5, 'x\ny', u'é'], 'b': (True, None)} with a memo reference
  const pickle = bytes("(dp0\nS'a'\np1\n(lp2\nI1\naL12345678901234567890L\naF2.5\naS'x\\ny'\naV\\u00e9\nasS'b'\np3\n(I01\nNtp4\nsS'c'\ng2\ns.");
  const { value } = unpickle(pickle, plain, 'test');
  t.true(value instanceof PyDict);
  const dict = value as PyDict;
  t.deepEqual(dict.map.get('a'), [1, 12345678901234567890n, 2.5, 'x\ny', 'é']);
  t.deepEqual((dict.map.get('b') as PyTuple).items, [true, null]);
  t.is(dict.map.get('c'), dict.map.get('a'), 'GET returns the memoised object itself');
});

test('binary opcodes: negative LONG1, BININT, BINFLOAT, BINBYTES, EMPTY_SET/ADDITEMS, FRAME and MEMOIZE (protocol 4)', (t) => {
  const pickle = bytes(
    [0x80, 0x04, 0x95], [9, 0, 0, 0, 0, 0, 0, 0], // PROTO 4, FRAME 9
    ']', [0x94], // EMPTY_LIST, MEMOIZE
    '(', [0x8a, 0x02, 0x00, 0xff], 'J', [0xfe, 0xff, 0xff, 0xff], 'G', [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], 'C', [3], 'abc', [0x8f], '(K', [1], 'K', [2], [0x90], 'e', // ..., APPENDS
    '.',
  );
  const { value } = unpickle(pickle, plain, 'test');
  t.deepEqual(value, [-256, -2, Math.PI, new Uint8Array([97, 98, 99]), new PySet([1, 2])]);
});

test('globals go through the policy: a plain-data policy refuses them before anything else', (t) => {
  const error = t.throws(() => unpickle(bytes('\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.'), plain, 'test'), { instanceOf: LaxrayError });
  t.is(error!.message, 'global posix.system refused');
});

test('INST / OBJ, EXT and out-of-band buffers are refused outright', (t) => {
  t.throws(() => unpickle(bytes('(ios\nsystem\nS"ls"\n.'), plain, 'test'), { message: /old INST\/OBJ opcodes/ });
  t.throws(() => unpickle(bytes('\x80\x02\x82\x01.'), plain, 'test'), { message: /extension registry/ });
  t.throws(() => unpickle(bytes('\x80\x05\x97.'), plain, 'test'), { message: /out-of-band buffers/ });
});

test('malformed pickles: unknown opcode, stack underflow, missing MARK, unknown memo entry, truncation, oversized ints', (t) => {
  t.throws(() => unpickle(bytes('\x80\x02\xff.'), plain, 'test'), { message: /unknown pickle opcode 0xff at byte 2/ });
  t.throws(() => unpickle(bytes('\x80\x02a.'), plain, 'test'), { message: /stack underflow/ });
  t.throws(() => unpickle(bytes('\x80\x02]e.'), plain, 'test'), { message: /no MARK/ });
  t.throws(() => unpickle(bytes('\x80\x02h\x07.'), plain, 'test'), { message: /memo entry 7 read at byte 2 was never written/ });
  t.throws(() => unpickle(bytes('\x80\x02X\xff\xff\xff\x7fabc'), plain, 'test'), { message: /ends before its STOP opcode.*truncated/ });
  t.throws(() => unpickle(bytes('\x80\x02\x8b', [0, 1, 0, 0], 'x'.repeat(256), '.'), plain, 'test'), { message: /a Python int of 256 bytes is too large/ });
  t.throws(() => unpickle(bytes('\x80\x06.'), plain, 'test'), { message: /protocol 6/ });
});

test('self-referencing containers are fine: a list that contains itself does not loop', (t) => {
  const { value } = unpickle(bytes('\x80\x02]q\x00h\x00a.'), plain, 'test');
  t.is((value as unknown[])[0], value);
});
