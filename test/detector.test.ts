// The network in the addon: shapes per level, the LA reweighting as the
// inspection shows it, weights in and out (safetensors, torchvision names),
// and bad input rejected with a clear error.
import test from 'ava';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import type { LaxrayConfigInput } from '../lib/config/index.js';
import { encodeSafetensors, type TensorMap } from '../lib/checkpoint/safetensors.js';
import { preprocess } from '../lib/data/index.js';
import sharp from 'sharp';
import { lcg } from './helpers/numbers.js';
import { randomBatch } from './helpers/small-detector.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('detector');
const small = (head: Record<string, unknown> = {}, backbone: Record<string, unknown> = {}): LaxrayConfigInput =>
  ({ classes: ['a', 'b', 'c'], model: { backbone: { depth: 18, ...backbone }, head } }) as LaxrayConfigInput;

// Conv output size: floor((in + 2·pad − kernel) / stride) + 1.
const conv = (size: number, kernel: number, stride: number, pad: number) => Math.floor((size + 2 * pad - kernel) / stride) + 1;

/** Expected spatial size of C3..C5 and P3..P7 for an input side, by torchvision's ResNet arithmetic. */
function levelSizes(side: number): number[] {
  const stem = conv(conv(side, 7, 2, 3), 3, 2, 1); // conv1 then maxpool
  const c3 = conv(stem, 3, 2, 1);
  const c4 = conv(c3, 3, 2, 1);
  const c5 = conv(c4, 3, 2, 1);
  const p6 = conv(c5, 3, 2, 1);
  const p7 = conv(p6, 3, 2, 1);
  return [c3, c4, c5, p6, p7];
}

test('per-level shapes for odd input sizes follow the conv arithmetic (ATSS delta head)', async (t) => {
  const detector = await Detector.create(small({ regression: 'delta', la: 'none' }));
  const [h, w] = [65, 97];
  const out = await detector.inspect(randomBatch(2, h, w));
  const hs = levelSizes(h);
  const ws = levelSizes(w);
  t.deepEqual(out['backbone.c3']!.shape, [2, 128, hs[0], ws[0]]);
  t.deepEqual(out['backbone.c4']!.shape, [2, 256, hs[1], ws[1]]);
  t.deepEqual(out['backbone.c5']!.shape, [2, 512, hs[2], ws[2]]);
  for (let l = 0; l < 5; l++) {
    const p = `p${l + 3}`;
    t.deepEqual(out[`fpn.${p}`]!.shape, [2, 256, hs[l], ws[l]], p);
    t.deepEqual(out[`head.${p}.cls`]!.shape, [2, 3, hs[l], ws[l]]);
    t.deepEqual(out[`head.${p}.reg`]!.shape, [2, 4, hs[l], ws[l]]);
    t.deepEqual(out[`head.${p}.quality`]!.shape, [2, 1, hs[l], ws[l]]);
  }
  t.falsy(out['la.p3.w1'], 'no LA tensors without LA');
});

test('the distribution head predicts 4 × 17 bin logits per location', async (t) => {
  const detector = await Detector.create(small({ regression: 'distribution', la: 'none' }));
  const out = await detector.inspect(randomBatch(1, 64, 64));
  t.deepEqual(out['head.p3.reg']!.shape, [1, 68, 8, 8]);
  t.deepEqual(out['head.p7.reg']!.shape, [1, 68, 1, 1]);
});

test('the classification prior starts every class near probability 0.01', async (t) => {
  const detector = await Detector.create(small({ regression: 'delta', la: 'none' }));
  const state = await detector.stateDict();
  // cls bias = −log((1 − 0.01) / 0.01) = −log 99 ≈ −4.595
  for (const v of state['head.atss_cls.bias']!.data) t.true(Math.abs(v - -Math.log(99)) < 1e-6);
  const out = await detector.inspect(randomBatch(1, 64, 64));
  const logits = Array.from(out['head.p4.cls']!.data);
  const meanProbability = logits.reduce((sum, v) => sum + 1 / (1 + Math.exp(-v)), 0) / logits.length;
  t.true(meanProbability > 0.005 && meanProbability < 0.02, `mean initial probability ${meanProbability}`);
});

function assertLaCls(t: import('ava').ExecutionContext, out: Record<string, { data: ArrayLike<number>; shape: number[] }>, a: number, b: number, c: number) {
  for (let l = 3; l <= 7; l++) {
    const x = out[`fpn.p${l}`]!.data;
    const w1 = out[`la.p${l}.w1`]!.data;
    const w2 = out[`la.p${l}.w2`]!.data;
    const xNew = out[`la.p${l}.x_new`]!.data;
    t.is(w1.length, x.length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      t.true(w1[i]! > 0 && w1[i]! < 1 && w2[i]! > 0 && w2[i]! < 1);
      const expected = a * x[i]! + b * w1[i]! * x[i]! - c * w2[i]! * x[i]!;
      worst = Math.max(worst, Math.abs(expected - xNew[i]!) / (1e-6 + Math.abs(expected)));
    }
    t.true(worst < 1e-4, `p${l}: x_new = a·x + b·w1·x − c·w2·x (worst relative error ${worst})`);
  }
}

test('LAcls: x_new = a·x + b·w1·x − c·w2·x on every level with the configured coefficients', async (t) => {
  const detector = await Detector.create(small({ regression: 'distribution', la: 'cls', laCoefficients: { a: 1, b: 1, c: 1 } }));
  assertLaCls(t, await detector.inspect(randomBatch(1, 64, 96)), 1, 1, 1);
  const other = await Detector.create(small({ regression: 'delta', la: 'cls', laCoefficients: { a: 0.5, b: 2, c: 1 } }));
  assertLaCls(t, await other.inspect(randomBatch(1, 64, 96)), 0.5, 2, 1);
});

test('LAreg: x_new = 0.5·x + w·x', async (t) => {
  const detector = await Detector.create(small({ regression: 'distribution', la: 'reg' }));
  const out = await detector.inspect(randomBatch(1, 64, 64));
  for (let l = 3; l <= 7; l++) {
    const x = out[`fpn.p${l}`]!.data;
    const w = out[`la.p${l}.w`]!.data;
    const xNew = out[`la.p${l}.x_new`]!.data;
    for (let i = 0; i < x.length; i += 7) t.true(Math.abs(0.5 * x[i]! + w[i]! * x[i]! - xNew[i]!) <= 1e-5 * (1 + Math.abs(x[i]!)));
  }
});

test('LAreg without the distribution head is refused with the reason', async (t) => {
  await t.throwsAsync(Detector.create(small({ regression: 'delta', la: 'reg' })), { instanceOf: LaxrayError, message: /distribution/ });
});

test('safetensors round trip is bit-exact', async (t) => {
  const a = await Detector.create(small({ regression: 'distribution', la: 'cls' }));
  const file = path.join(tmp, 'weights.safetensors');
  await a.saveWeights(file);
  const b = await Detector.create({ ...small({ regression: 'distribution', la: 'cls' }), train: { seed: 2 } });
  const before = await b.stateDict();
  const original = await a.stateDict();
  t.notDeepEqual(Buffer.from(before['head.atss_reg.weight']!.data.buffer), Buffer.from(original['head.atss_reg.weight']!.data.buffer));
  await b.loadWeights(file);
  const after = await b.stateDict();
  t.deepEqual(Object.keys(after).sort(), Object.keys(original).sort());
  for (const name of Object.keys(original)) {
    const x = original[name]!;
    const y = after[name]!;
    t.deepEqual(y.shape, x.shape);
    t.true(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).equals(Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)), name);
  }
  // The same input gives the same output.
  const input = randomBatch(1, 64, 64, 7);
  const oa = await a.inspect(input);
  const ob = await b.inspect(input);
  t.deepEqual(Array.from(oa['head.p3.cls']!.data), Array.from(ob['head.p3.cls']!.data));
});

test('Detector.load restores a saved detector (config from the file metadata, same outputs)', async (t) => {
  const a = await Detector.create({ ...small({ regression: 'delta', la: 'cls' }), train: { seed: 9 } });
  const file = path.join(tmp, 'saved.safetensors');
  await a.saveWeights(file);
  const b = await Detector.load(file);
  t.is(b.config.model.head.la, 'cls');
  t.deepEqual(b.classNames(), ['a', 'b', 'c']);
  const input = randomBatch(1, 64, 64, 3);
  t.deepEqual(Array.from((await b.inspect(input))['head.p4.reg']!.data), Array.from((await a.inspect(input))['head.p4.reg']!.data));
});

/** torchvision's resnet18 state-dict keys and shapes, written out from its architecture (BasicBlock, [2, 2, 2, 2]). */
function torchvisionResnet18(): Map<string, number[]> {
  const keys = new Map<string, number[]>();
  const bn = (prefix: string, c: number) => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) keys.set(`${prefix}.${p}`, [c]);
    keys.set(`${prefix}.num_batches_tracked`, []);
  };
  keys.set('conv1.weight', [64, 3, 7, 7]);
  bn('bn1', 64);
  let inPlanes = 64;
  [64, 128, 256, 512].forEach((planes, layer) => {
    for (let block = 0; block < 2; block++) {
      const p = `layer${layer + 1}.${block}`;
      keys.set(`${p}.conv1.weight`, [planes, block === 0 ? inPlanes : planes, 3, 3]);
      bn(`${p}.bn1`, planes);
      keys.set(`${p}.conv2.weight`, [planes, planes, 3, 3]);
      bn(`${p}.bn2`, planes);
      if (block === 0 && layer > 0) {
        keys.set(`${p}.downsample.0.weight`, [planes, inPlanes, 1, 1]);
        bn(`${p}.downsample.1`, planes);
      }
    }
    inPlanes = planes;
  });
  keys.set('fc.weight', [1000, 512]);
  keys.set('fc.bias', [1000]);
  return keys;
}

function syntheticStateDict(shapes: Map<string, number[]>, seed: number): TensorMap {
  const out: TensorMap = {};
  const next = lcg(seed);
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('num_batches_tracked')) {
      out[name] = { data: new Int32Array([seed]), shape };
      continue;
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = next();
      data[i] = name.endsWith('running_var') ? 1 + u : (u - 0.5) * 0.1;
    }
    out[name] = { data, shape };
  }
  return out;
}

test('a torchvision-named ResNet-18 state dict loads into the backbone unchanged (fc ignored)', async (t) => {
  const expected = torchvisionResnet18();
  const weights = syntheticStateDict(expected, 3);
  const file = path.join(tmp, 'resnet18.safetensors');
  writeFileSync(file, encodeSafetensors(weights));
  const detector = await Detector.create(small({ regression: 'delta', la: 'none' }, { pretrained: file }));
  t.is(detector.config.model.backbone.norm, 'frozen_bn');
  const state = await detector.stateDict();
  for (const [name, shape] of expected) {
    if (name.startsWith('fc.')) continue;
    const mine = state[`backbone.${name}`];
    t.truthy(mine, `backbone.${name} exists`);
    t.deepEqual(mine!.shape, shape, name);
    t.deepEqual(Array.from(mine!.data.slice(0, 5)), Array.from(weights[name]!.data.slice(0, 5)), name);
  }
  const backboneKeys = Object.keys(state).filter((k) => k.startsWith('backbone.'));
  t.is(backboneKeys.length, expected.size - 2, 'exactly torchvision\'s keys minus fc');
});

test('mismatched backbone weights are refused, listing missing, unexpected and mis-shaped keys', async (t) => {
  const shapes = torchvisionResnet18();
  const weights = syntheticStateDict(shapes, 5);
  delete weights['layer3.1.conv2.weight'];
  weights['layer9.0.conv1.weight'] = { data: new Float32Array(1), shape: [1] };
  weights['bn1.weight'] = { data: new Float32Array(32), shape: [32] };
  const file = path.join(tmp, 'bad-resnet18.safetensors');
  writeFileSync(file, encodeSafetensors(weights));
  const error = await t.throwsAsync(Detector.create(small({}, { pretrained: file })), { instanceOf: LaxrayError });
  t.regex(error!.message, /missing keys \(1\): layer3\.1\.conv2\.weight/);
  t.regex(error!.message, /unexpected keys \(1\): layer9\.0\.conv1\.weight/);
  t.regex(error!.message, /bn1\.weight \(file \[32\], model \[64\]\)/);
});

test('a truncated weights file is an error naming the file', async (t) => {
  const detector = await Detector.create(small());
  const file = path.join(tmp, 'full.safetensors');
  await detector.saveWeights(file);
  const cut = path.join(tmp, 'truncated.safetensors');
  const bytes = readFileSync(file);
  writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
  await t.throwsAsync(detector.loadWeights(cut), { instanceOf: LaxrayError, message: /truncated\.safetensors.*(truncated|beyond the end)/ });
  writeFileSync(cut, bytes.subarray(0, 5));
  await t.throwsAsync(detector.loadWeights(cut), { instanceOf: LaxrayError, message: /too short/ });
});

test('bad images are refused with what was wrong, and the detector still works after', async (t) => {
  const detector = await Detector.create(small());
  await t.throwsAsync(detector.inspect({ data: new Float32Array(4 * 32 * 32), shape: [1, 4, 32, 32] }), {
    instanceOf: LaxrayError,
    message: /\[N, 3, H, W\]/,
  });
  await t.throwsAsync(detector.inspect({ data: new Float32Array(0), shape: [1, 3, 0, 32] }), { instanceOf: LaxrayError, message: /empty/ });
  const nan = randomBatch(1, 32, 32);
  nan.data[17] = NaN;
  await t.throwsAsync(detector.inspect(nan), { instanceOf: LaxrayError, message: /NaN/ });
  await t.throwsAsync(detector.inspect({ data: new Float32Array(10), shape: [1, 3, 32, 32] }), { instanceOf: LaxrayError, message: /needs 3072 elements/ });
  const ok = await detector.inspect(randomBatch(1, 32, 32));
  t.truthy(ok['fpn.p3']);
});

test('unknown config values are refused before any tensor work', async (t) => {
  await t.throwsAsync(Detector.create({ model: { backbone: { depth: 101 } } } as never), { instanceOf: LaxrayError, message: /depth/ });
});

test('a raw dual-energy pair is turned into the eq.-1 image before detection', async (t) => {
  const detector = await Detector.create(small());
  const [w, h] = [40, 30];
  // high 25600, low 12800: ch0 = 25600/256 = 100, ch1 = 50, ch2 = round(510·σ(2) − 255) = round(194.2) = 194
  const pair = {
    high: { data: new Uint16Array(w * h).fill(25600), width: w, height: h },
    low: { data: new Uint16Array(w * h).fill(12800), width: w, height: h },
  };
  const batch = await detector.toBatch(pair);
  const [, , height, width] = batch.shape as number[];
  const plane = height! * width!;
  const expected = [(100 - 123.675) / 58.395, (50 - 116.28) / 57.12, (194 - 103.53) / 57.375];
  for (let c = 0; c < 3; c++) t.true(Math.abs(batch.data[c * plane]! - expected[c]!) < 1e-4, `channel ${c}`);
  const detections = await detector.detect(pair);
  t.true(Array.isArray(detections));
  await t.throwsAsync(detector.detect({ high: pair.high, low: { data: new Uint16Array(10), width: 5, height: 2 } }), {
    instanceOf: LaxrayError,
    message: /same size/,
  });
});

test('a pipeline batch keeps its metas: detect(batch) gives the boxes detect(image) gives, in the original image', async (t) => {
  const config = {
    classes: ['a', 'b', 'c'],
    data: { imageScale: [96, 64] },
    model: { backbone: { depth: 18 }, head: { regression: 'delta', la: 'none' }, test: { scoreThreshold: 0, nmsPre: 20, maxPerImage: 20 } },
  } as LaxrayConfigInput;
  const detector = await Detector.create(config);
  // 300×200 noise: the pipeline resizes it by 0.32 to 96×64, so boxes in the input differ from boxes in the image
  const pixels = Buffer.from(randomBatch(1, 200, 300, 7).data.map((v) => Math.round((v + 1) * 127.5)));
  const png = await sharp(new Uint8Array(pixels.buffer, pixels.byteOffset, 3 * 200 * 300), { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
  const { imageScale, mean, std, padDivisor } = detector.config.data;
  const batch = await preprocess(png, { scale: imageScale, mean, std, sizeDivisor: padDivisor });
  t.is(batch.metas[0]!.originalWidth, 300);
  const fromImage = await detector.detect(png);
  const fromBatch = await detector.detect(batch);
  t.true(fromImage.length > 0);
  t.deepEqual(fromBatch[0], fromImage);
  t.true(fromImage.some((d) => d.box[2] > 96), 'boxes are in the 300×200 image, not in the 96×64 input');
});
