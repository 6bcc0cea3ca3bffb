// Reading PyTorch's torch.save files: every tensor of the fixtures (made by
// test/fixtures/pytorch/make_fixtures.py with PyTorch 1.13) comes out with the
// bytes PyTorch holds (SHA-256 stored beside each file), whatever the view,
// dtype, byte order or container; nested checkpoints are unwrapped; formats
// are told by content, not by extension.
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readPyTorchStateDict, readWeights, readBackboneWeights, sniffWeightsFormat } from '../lib/checkpoint/weights.js';
import { toNamedTensor } from '../lib/checkpoint/pytorch/tensor.js';
import { encodeSafetensors } from '../lib/checkpoint/safetensors.js';
import { LaxrayError } from '../lib/errors.js';
import { fixture } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

const fixtures = fixture('pytorch');
const tmp = tempDir('weights');

interface Expected {
  dtype: string;
  shape: number[];
  sha256: string;
  float32_sha256?: string;
  hex?: string;
}

function expected(name: string): Record<string, Expected> {
  return JSON.parse(readFileSync(path.join(fixtures, `${name}.expected.json`), 'utf8')).tensors;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

// Each fixture is read once; the tests share the result.
const reads = new Map<string, ReturnType<typeof readPyTorchStateDict>>();
function read(file: string): ReturnType<typeof readPyTorchStateDict> {
  if (!reads.has(file)) reads.set(file, readPyTorchStateDict(path.join(fixtures, file)));
  return reads.get(file)!;
}

async function assertBitIdentical(t: import('ava').ExecutionContext, file: string, reference: string): Promise<void> {
  const want = expected(reference);
  const { tensors } = await read(file);
  t.deepEqual([...tensors.keys()].sort(), Object.keys(want).sort(), 'same names');
  let mismatches = 0;
  for (const [name, e] of Object.entries(want)) {
    const raw = tensors.get(name)!;
    const same = raw.dtype === e.dtype && JSON.stringify(raw.shape) === JSON.stringify(e.shape) && sha256(raw.bytes) === e.sha256;
    if (!same) t.log(`${name}: ${raw.dtype} [${raw.shape}] vs ${e.dtype} [${e.shape}]${e.hex ? `\n  got  ${Buffer.from(raw.bytes).toString('hex')}\n  want ${e.hex}` : ''}`);
    mismatches += same ? 0 : 1;
  }
  t.is(mismatches, 0, `${file}: every tensor bit-identical to PyTorch's`);
}

test('views of one storage (transposed, offset, strided, zero-stride, permuted, empty, scalar) are rebuilt bit-identically', async (t) => {
  await assertBitIdentical(t, 'views.pth', 'views');
});

test("a big-endian file (byteorder 'big', swapped storages) reads as the same values", async (t) => {
  await assertBitIdentical(t, 'views_big_endian.pth', 'views');
});

test('float64/32/16, bfloat16, int64/32/16/8, uint8 and bool keep their bytes', async (t) => {
  await assertBitIdentical(t, 'dtypes.pth', 'dtypes');
});

test("to laxray's types: half and bfloat16 widen to exactly PyTorch's float(), int64 to int32 with a range check", async (t) => {
  const want = expected('dtypes');
  const { tensors } = await read('dtypes.pth');
  for (const name of ['float16', 'bfloat16', 'float16_transposed', 'float64']) {
    const named = toNamedTensor(tensors.get(name)!, name);
    t.true(named.data instanceof Float32Array);
    t.is(sha256(new Uint8Array(named.data.buffer)), want[name]!.float32_sha256!, `${name} as float32`);
  }
  t.deepEqual([...toNamedTensor(tensors.get('int64')!, 'int64').data], [0, -1, 2147483647, -2147483648, 12345]);
  t.deepEqual([...toNamedTensor(tensors.get('int8')!, 'int8').data], [-128, 127, -3]);
  t.deepEqual([...toNamedTensor(tensors.get('int16')!, 'int16').data], [-32768, 32767, 5]);
  t.deepEqual([...toNamedTensor(tensors.get('bool')!, 'bool').data], [1, 0, 1]);
  const error = t.throws(() => toNamedTensor(tensors.get('int64_too_big')!, 'int64_too_big'), { instanceOf: LaxrayError });
  t.regex(error!.message, /1099511627776 does not fit in int32/);
});

test('a torchvision ResNet-18 state dict (zip and legacy format) reads bit-identically', async (t) => {
  await assertBitIdentical(t, 'resnet18_torchvision.pth', 'resnet18_torchvision');
  await assertBitIdentical(t, 'resnet18_torchvision_legacy.pth', 'resnet18_torchvision');
});

test("an mmdetection checkpoint (meta with numpy scalars, state_dict, optimizer) unwraps to its state_dict, zip and legacy", async (t) => {
  for (const file of ['mmdet_atss_lacls_r50.pth', 'mmdet_atss_lacls_r50_legacy.pth']) {
    await assertBitIdentical(t, file, 'mmdet_atss_lacls_r50');
    const { notes } = await read(file);
    t.deepEqual(notes, ["state dict taken from checkpoint['state_dict']"]);
  }
});

test("a training script's {'model': DataParallel state dict, 'args': Namespace, ...} unwraps and loses the 'module.' prefix", async (t) => {
  await assertBitIdentical(t, 'wrapped_dataparallel.pth', 'wrapped_dataparallel');
  const { notes } = await read('wrapped_dataparallel.pth');
  t.deepEqual(notes, ["state dict taken from checkpoint['model']", "removed the 'module.' prefix (DataParallel)"]);
});

test('the format is told by content, not by the file name', async (t) => {
  const cases: Array<[string, 'pytorch-zip' | 'pytorch-legacy']> = [
    ['views.pth', 'pytorch-zip'],
    ['resnet18_torchvision_legacy.pth', 'pytorch-legacy'],
  ];
  for (const [file, format] of cases) {
    const renamed = path.join(tmp, `${file}.safetensors`);
    copyFileSync(path.join(fixtures, file), renamed);
    t.is(await sniffWeightsFormat(renamed), format);
  }
  const safetensors = path.join(tmp, 'weights.pth');
  writeFileSync(safetensors, encodeSafetensors({ 'a.weight': { data: new Float32Array([1, 2]), shape: [2] } }));
  t.is(await sniffWeightsFormat(safetensors), 'safetensors');
  const { tensors } = await readWeights(safetensors);
  t.deepEqual([...tensors['a.weight']!.data], [1, 2]);
  const text = path.join(tmp, 'notes.pth');
  writeFileSync(text, 'hello, not weights');
  const error = await t.throwsAsync(readWeights(text), { instanceOf: LaxrayError });
  t.is(error!.code, 'CHECKPOINT_ERROR');
  t.regex(error!.message, /not a weights file laxray reads: expected safetensors, or a PyTorch checkpoint/);
});

test("mmdetection names are recognised and mapped onto laxray's; the Integral buffer is dropped", async (t) => {
  const weights = await readWeights(path.join(fixtures, 'mmdet_atss_lacls_r50.pth'));
  t.is(weights.layout, 'mmdet');
  const names = Object.keys(weights.tensors);
  t.true(names.includes('neck.lateral_convs.2.weight'));
  t.true(names.includes('neck.fpn_convs.4.bias'));
  t.true(names.includes('head.cls_convs.1.gn.weight'));
  t.true(names.includes('head.reg_conf.2.weight'));
  t.true(names.includes('head.scales.3.scale'));
  t.true(names.includes('backbone.layer4.2.conv3.weight'));
  t.false(names.some((n) => n.startsWith('bbox_head.') || n.includes('.conv.conv') || n.includes('integral')));
  t.true(weights.notes.some((n) => n.includes('dropped bbox_head.integral.project')));
  // Same values under the new names.
  const want = expected('mmdet_atss_lacls_r50');
  const lateral = weights.tensors['neck.lateral_convs.0.weight']!;
  t.deepEqual(lateral.shape, want['neck.lateral_convs.0.conv.weight']!.shape);
  t.is(sha256(new Uint8Array(lateral.data.buffer)), want['neck.lateral_convs.0.conv.weight']!.sha256);
});

test('backbone weights: a torchvision state dict as it is, or the backbone.* part of a detector checkpoint', async (t) => {
  const torchvision = await readBackboneWeights(path.join(fixtures, 'resnet18_torchvision.pth'));
  t.true('conv1.weight' in torchvision.tensors && 'fc.weight' in torchvision.tensors);
  const fromDetector = await readBackboneWeights(path.join(fixtures, 'mmdet_atss_lacls_r50.pth'));
  const names = Object.keys(fromDetector.tensors);
  t.true(names.includes('layer1.0.conv3.weight') && names.includes('bn1.running_var'));
  t.false(names.some((n) => n.startsWith('neck.') || n.startsWith('bbox_head.') || n.startsWith('backbone.')));
});
