// PyTorch weights in the detector: a torchvision ResNet state dict (.pth, zip
// or legacy) as the backbone or as `pretrained` gives torchvision's own
// features; an mmdetection ATSS+LAcls checkpoint in the authors' layout loads
// by name, holds PyTorch's values exactly, gives the FPN features mmdetection
// computes and detects; `laxray convert weights` writes it as safetensors and
// writes laxray weights back under torchvision's and mmdetection's names.
// References: test/fixtures/pytorch/*.expected.json, made with PyTorch by
// make_fixtures.py (torchvision's ResNets, a transcription of mmdetection's FPN).
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { readSafetensors } from '../lib/checkpoint/safetensors.js';
import { mmdetToLaxray } from '../lib/checkpoint/pytorch/name_maps.js';
import type { LaxrayConfigInput } from '../lib/config/index.js';
import type { TensorData } from '../lib/native.js';
import { laxrayInProcess as laxray } from './helpers/cli.js';
import { fixture as fixturePath } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

/** A file of test/fixtures/pytorch. */
const fixture = (name: string) => fixturePath('pytorch', name);
const tmp = tempDir('weights-detector');

interface FeatureReference {
  shape: number[];
  indices: number[];
  values: number[];
  absmax: number;
}

interface Reference {
  tensors: Record<string, { dtype: string; shape: number[]; sha256: string }>;
  features: Record<string, FeatureReference>;
  laxray_config?: LaxrayConfigInput;
}

const reference = (name: string): Reference => JSON.parse(readFileSync(fixture(`${name}.expected.json`), 'utf8'));
const sha256 = (data: ArrayBufferView) => createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');

/** make_fixtures.py's input: sin(0.37 i) as float32, [1, 3, 64, 64]. */
function networkInput(): { data: Float32Array; shape: number[] } {
  const data = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(0.37 * i));
  return { data, shape: [1, 3, 64, 64] };
}

function assertFeatures(t: import('ava').ExecutionContext, got: Record<string, TensorData>, want: Record<string, FeatureReference>, names: string[]): void {
  for (const name of names) {
    const ref = want[name]!;
    const map = got[name]!;
    t.deepEqual(map.shape, ref.shape, `${name} shape`);
    const tolerance = 1e-4 * ref.absmax + 1e-6;
    const worst = Math.max(...ref.indices.map((at, k) => Math.abs(map.data[at]! - ref.values[k]!)));
    t.true(worst <= tolerance, `${name}: largest difference ${worst} to PyTorch's (tolerance ${tolerance})`);
  }
}

const resnet18Config = (pretrained: string | null = null): LaxrayConfigInput => ({
  classes: ['a', 'b', 'c'],
  model: {
    backbone: { depth: 18, norm: 'frozen_bn', pretrained },
    neck: { outChannels: 32 },
    head: { featChannels: 32, stackedConvs: 1, la: 'none', regression: 'delta' },
  },
});

test("a torchvision ResNet-18 .pth (zip and legacy) in loadBackboneWeights gives torchvision's C3-C5", async (t) => {
  const want = reference('resnet18_torchvision').features;
  for (const file of ['resnet18_torchvision.pth', 'resnet18_torchvision_legacy.pth']) {
    const detector = await Detector.create(resnet18Config());
    await detector.loadBackboneWeights(fixture(file));
    assertFeatures(t, await detector.inspect(networkInput()), want, ['backbone.c3', 'backbone.c4', 'backbone.c5']);
  }
});

test('model.backbone.pretrained takes a .pth', async (t) => {
  const detector = await Detector.create(resnet18Config(fixture('resnet18_torchvision.pth')));
  assertFeatures(t, await detector.inspect(networkInput()), reference('resnet18_torchvision').features, ['backbone.c5']);
});

const mmdet = reference('mmdet_atss_lacls_r50');

test("the authors' ATSS+LAcls R50 layout loads by name: PyTorch's exact values, mmdetection's features, detections", async (t) => {
  const detector = await Detector.create(mmdet.laxray_config!);
  await detector.loadWeights(fixture('mmdet_atss_lacls_r50.pth'));
  const state = await detector.stateDict();
  let compared = 0;
  for (const [name, expected] of Object.entries(mmdet.tensors)) {
    const laxrayName = mmdetToLaxray(name);
    if (laxrayName === null) continue; // the Integral constant
    const tensor = state[laxrayName];
    if (tensor === undefined) {
      t.true(name.endsWith('num_batches_tracked'), `${name} -> ${laxrayName} is in the detector`);
      continue;
    }
    t.deepEqual(tensor.shape, expected.shape, name);
    if (expected.dtype === 'float32') t.is(sha256(tensor.data), expected.sha256, `${laxrayName} holds PyTorch's values of ${name}`);
    compared++;
  }
  t.true(compared > 300, `${compared} tensors compared`);
  const features = await detector.inspect(networkInput());
  assertFeatures(t, features, mmdet.features, ['backbone.c3', 'backbone.c4', 'backbone.c5', 'fpn.p3', 'fpn.p4', 'fpn.p5', 'fpn.p6']);
  const detections = await detector.detect(networkInput());
  t.true(Array.isArray(detections) && detections.length === 1, 'one list of detections for the one image');
  for (const d of detections[0]!) {
    t.true(['knife', 'scissors', 'bottle'].includes(d.category) && d.score > 0 && d.score <= 1, JSON.stringify(d));
    t.true(d.box.every((v) => v >= 0 && v <= 64), 'boxes inside the 64 × 64 input');
  }
});

test('the legacy-format copy of the mmdetection checkpoint loads to the same weights', async (t) => {
  const detector = await Detector.create(mmdet.laxray_config!);
  await detector.loadWeights(fixture('mmdet_atss_lacls_r50_legacy.pth'));
  const state = await detector.stateDict();
  t.is(sha256(state['head.atss_reg.weight']!.data), mmdet.tensors['bbox_head.atss_reg.weight']!.sha256);
  t.is(sha256(state['backbone.layer3.5.conv2.weight']!.data), mmdet.tensors['backbone.layer3.5.conv2.weight']!.sha256);
});

test('a checkpoint for another head is reported by its missing and unexpected keys', async (t) => {
  const detector = await Detector.create({ ...mmdet.laxray_config!, model: { ...mmdet.laxray_config!.model, head: { ...mmdet.laxray_config!.model!.head, la: 'none', regression: 'delta' } } });
  const error = await t.throwsAsync(detector.loadWeights(fixture('mmdet_atss_lacls_r50.pth')), { instanceOf: LaxrayError });
  t.regex(error!.message, /does not match the model/);
  t.regex(error!.message, /missing keys \(2\): head\.atss_centerness\.bias, head\.atss_centerness\.weight/);
  t.regex(error!.message, /unexpected keys \(4\): head\.reg_conf\.0\.weight, head\.reg_conf\.0\.bias, head\.reg_conf\.2\.weight, head\.reg_conf\.2\.bias/);
  t.regex(error!.message, /shape mismatches \(2\): head\.atss_reg\.weight \(file \[68, 32, 3, 3\], model \[4, 32, 3, 3\]\), head\.atss_reg\.bias \(file \[68\], model \[4\]\)/);
});

// ---------------------------------------------------------------- laxray convert weights

const namesAndShapes = (tensors: Record<string, { shape: number[] }>) => Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, t.shape]).sort(([a], [b]) => (a! < b! ? -1 : 1)));

test.serial('convert weights: an mmdetection .pth becomes laxray safetensors, and goes back to exactly the mmdetection names, shapes and values', async (t) => {
  const imported = path.join(tmp, 'imported.safetensors');
  const run = await laxray(['convert', 'weights', fixture('mmdet_atss_lacls_r50.pth'), imported, '--json']);
  t.is(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  t.like(report, { direction: 'import', format: 'pytorch-zip', layout: 'mmdet', tensors: Object.keys(mmdet.tensors).length - 1 });
  // Into a detector, saved as laxray weights, exported under mmdetection's names.
  const detector = await Detector.create(mmdet.laxray_config!);
  await detector.loadWeights(imported);
  const saved = path.join(tmp, 'laxray.safetensors');
  await detector.saveWeights(saved);
  const exported = path.join(tmp, 'mmdet.safetensors');
  const back = await laxray(['convert', 'weights', saved, exported, '--map', 'mmdet']);
  t.is(back.code, 0, back.stderr);
  t.regex(back.stdout, /tensors \(laxray -> mmdet\)/);
  const { tensors, metadata } = await readSafetensors(exported);
  t.like(metadata, { format: 'pytorch', layout: 'mmdet' });
  const names: Record<string, number[]> = JSON.parse(readFileSync(fixture('mmdet_atss_lacls_r50_names.json'), 'utf8'));
  t.deepEqual(namesAndShapes(tensors), namesAndShapes(Object.fromEntries(Object.entries(names).map(([n, shape]) => [n, { shape }]))), "the authors' names and shapes");
  for (const [name, expected] of Object.entries(mmdet.tensors)) {
    if (expected.dtype === 'float32') t.is(sha256(tensors[name]!.data), expected.sha256, name);
  }
});

test.serial("convert weights --map torchvision: a laxray ResNet-18 backbone under torchvision's names and shapes", async (t) => {
  const detector = await Detector.create(resnet18Config());
  const saved = path.join(tmp, 'r18.safetensors');
  await detector.saveWeights(saved);
  const exported = path.join(tmp, 'r18-torchvision.safetensors');
  const run = await laxray(['convert', 'weights', saved, exported, '--map', 'torchvision']);
  t.is(run.code, 0, run.stderr);
  const { tensors } = await readSafetensors(exported);
  const torchvision: Record<string, number[]> = JSON.parse(readFileSync(fixture('torchvision_resnet18_names.json'), 'utf8'));
  const want = Object.fromEntries(Object.entries(torchvision).filter(([n]) => !n.startsWith('fc.')).map(([n, shape]) => [n, { shape }]));
  t.deepEqual(namesAndShapes(tensors), namesAndShapes(want), "torchvision's names and shapes, without the classifier");
});

test.serial('convert weights refuses a --map that does not fit the input', async (t) => {
  const run = await laxray(['convert', 'weights', fixture('views.pth'), path.join(tmp, 'x.safetensors'), '--map', 'torchvision']);
  t.is(run.code, 1);
  t.regex(run.stderr, /--map torchvision: to bring weights into laxray use --map auto, laxray, mmdet/);
});
