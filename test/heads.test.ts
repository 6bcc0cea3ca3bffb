// The authors' heads as the forward pass shows them: P7 = conv(P6) without
// ReLU (computed here by hand from the weights), the LAreg quality branch on
// max − mean of the bin softmax, the reg tower twice without LA (the control),
// and LA switched off at test time (features unchanged, the rest kept).
import test from 'ava';
import path from 'node:path';
import { Detector, type Detection } from '../lib/detector.js';
import type { LaxrayConfigInput } from '../lib/config/index.js';
import type { TensorData } from '../lib/native.js';
import { randomBatch, thinR18 } from './helpers/small-detector.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('heads');

const tiny = (head: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): LaxrayConfigInput =>
  ({
    classes: ['a', 'b', 'c'],
    model: { ...thinR18({ norm: 'gn', head }), ...rest },
    train: { seed: 3 },
  }) as LaxrayConfigInput;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** 3x3 conv, stride 2, padding 1, in float64: input [1, C, H, W] -> [1, O, H', W']. */
function conv3x3s2(input: TensorData, weight: TensorData, bias: TensorData, relu: boolean): number[] {
  const [, c, h, w] = input.shape as [number, number, number, number];
  const o = weight.shape[0]!;
  const [oh, ow] = [Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1];
  const out: number[] = [];
  for (let k = 0; k < o; k++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++) {
        let sum = bias.data[k]!;
        for (let ci = 0; ci < c; ci++)
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const [iy, ix] = [2 * y + ky - 1, 2 * x + kx - 1];
              if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
              const v = input.data[(ci * h + iy) * w + ix]!;
              sum += weight.data[((k * c + ci) * 3 + ky) * 3 + kx]! * (relu ? Math.max(v, 0) : v);
            }
        out.push(sum);
      }
  return out;
}

for (const extraReluP7 of [false, true]) {
  test(`P7 = conv(${extraReluP7 ? 'relu(P6)' : 'P6'}) with neck.extraReluP7 ${extraReluP7}`, async (t) => {
    const detector = await Detector.create(tiny({}, { neck: { outChannels: 32, extraReluP7 } }));
    const out = await detector.inspect(randomBatch(1, 96, 96));
    const state = await detector.stateDict();
    const p6 = out['fpn.p6']!;
    t.true(Array.from(p6.data).some((v) => v < 0), 'P6 has negative entries, so the ReLU matters');
    const expected = conv3x3s2(p6, state['neck.fpn_convs.4.weight']!, state['neck.fpn_convs.4.bias']!, extraReluP7);
    const other = conv3x3s2(p6, state['neck.fpn_convs.4.weight']!, state['neck.fpn_convs.4.bias']!, !extraReluP7);
    t.true(maxAbsDiff(out['fpn.p7']!.data, expected) < 1e-4, `P7 vs hand conv: ${maxAbsDiff(out['fpn.p7']!.data, expected)}`);
    t.true(maxAbsDiff(out['fpn.p7']!.data, other) > 1e-3, 'and not the other variant');
  });
}

test("LAreg's quality branch reads max − mean of each side's bin softmax (4 channels → 64 → 1)", async (t) => {
  const detector = await Detector.create(tiny({ regression: 'distribution', la: 'reg' }));
  const state = await detector.stateDict();
  t.deepEqual(state['head.reg_conf.0.weight']!.shape, [64, 4, 1, 1]);
  t.deepEqual(state['head.reg_conf.2.weight']!.shape, [1, 64, 1, 1]);
  const lacls = await Detector.create(tiny({ regression: 'distribution', la: 'cls' }));
  t.deepEqual((await lacls.stateDict())['head.reg_conf.0.weight']!.shape, [64, 20, 1, 1], 'LAcls keeps top-4 + mean');

  // quality = W2 · relu(W1 · s + b1) + b2 with s_side = max − mean of softmax(bins), by hand at a few locations.
  const out = await detector.inspect(randomBatch(1, 64, 64, 5));
  const reg = out['head.p3.reg']!; // [1, 4·17, H, W]
  const quality = out['head.p3.quality']!;
  const [, , h, w] = reg.shape as [number, number, number, number];
  const [w1, b1, w2, b2] = ['0.weight', '0.bias', '2.weight', '2.bias'].map((k) => state[`head.reg_conf.${k}`]!.data);
  for (const [y, x] of [[0, 0], [3, 5], [h - 1, w - 1]] as const) {
    const stats = [0, 1, 2, 3].map((side) => {
      const logits = Array.from({ length: 17 }, (_, b) => reg.data[((side * 17 + b) * h + y) * w + x]!);
      const top = Math.max(...logits);
      const exp = logits.map((v) => Math.exp(v - top));
      const total = exp.reduce((a, b) => a + b, 0);
      const prob = exp.map((v) => v / total);
      return Math.max(...prob) - prob.reduce((a, b) => a + b, 0) / 17;
    });
    let q = b2![0]!;
    for (let k = 0; k < 64; k++) {
      let hidden = b1![k]!;
      for (let side = 0; side < 4; side++) hidden += w1![k * 4 + side]! * stats[side]!;
      q += w2![k]! * Math.max(hidden, 0);
    }
    t.true(Math.abs(quality.data[y * w + x]! - q) < 1e-5, `(${y}, ${x}): ${quality.data[y * w + x]} vs ${q}`);
  }
});

test('laRegTwice: null follows LA; true without LA is the LA head with x_new = x (the control)', async (t) => {
  const file = path.join(tmp, 'reg2.safetensors');
  const control = await Detector.create(tiny({ regression: 'distribution', la: 'none', laRegTwice: true }));
  await control.saveWeights(file);
  const batch = randomBatch(1, 64, 64, 9);
  const reg2 = await control.inspect(batch);
  // The same weights in an LAcls head with (a, b, c) = (1, 0, 0): x_new = x, then the reg tower twice.
  const lacls = await Detector.load(file, { model: { head: { la: 'cls', laCoefficients: { a: 1, b: 0, c: 0 } } } });
  t.is(lacls.config.model.head.laRegTwice, true);
  const viaLa = await lacls.inspect(batch);
  // And with the reg tower once (laRegTwice null without LA).
  const once = await Detector.load(file, { model: { head: { laRegTwice: null } } });
  const single = await once.inspect(batch);
  // (P6, P7 are 2×2 and 1×1 here: GroupNorm with one channel per group flattens them to β.)
  for (const level of ['p3', 'p4', 'p5']) {
    t.is(maxAbsDiff(reg2[`head.${level}.reg`]!.data, viaLa[`head.${level}.reg`]!.data), 0, level);
    t.is(maxAbsDiff(reg2[`head.${level}.cls`]!.data, single[`head.${level}.cls`]!.data), 0, `${level} cls: one tower either way`);
    t.true(maxAbsDiff(reg2[`head.${level}.reg`]!.data, single[`head.${level}.reg`]!.data) > 1e-6, `${level}: twice differs from once`);
  }
});

test('model.test.labelAware false skips the reweighting at inference: detections equal (a, b, c) = (1, 0, 0), not LA', async (t) => {
  const file = path.join(tmp, 'lacls.safetensors');
  const trained = await Detector.create(tiny({ regression: 'distribution', la: 'cls' }, { test: { scoreThreshold: 0, nmsPre: 50, maxPerImage: 50 } }));
  await trained.saveWeights(file);
  const batch = randomBatch(2, 64, 96, 11);
  const off = await Detector.load(file, { model: { test: { labelAware: false } } });
  t.is(off.config.model.test.labelAware, false);
  const identity = await Detector.load(file, { model: { head: { laCoefficients: { a: 1, b: 0, c: 0 } } } });
  const on = await Detector.load(file);
  // one after another: detectors running at once share the intra-op threads, and a reduction split over
  // fewer threads rounds differently (ulp-level box differences)
  const dOff = (await off.detect(batch)) as Detection[][];
  const dIdentity = (await identity.detect(batch)) as Detection[][];
  const dOn = (await on.detect(batch)) as Detection[][];
  t.true(dOff[0]!.length > 0);
  t.deepEqual(dOff, dIdentity);
  // LA on: w1 ≠ w2 somewhere, so the head's outputs move (however little at initialisation).
  const inspectOn = await on.inspect(batch);
  const inspectOff = await off.inspect(batch);
  const w1 = inspectOn['la.p3.w1']!.data;
  const w2 = inspectOn['la.p3.w2']!.data;
  t.true(maxAbsDiff(w1, w2) > 0, 'w1 ≠ w2');
  t.true(maxAbsDiff(inspectOn['head.p3.cls']!.data, inspectOff['head.p3.cls']!.data) > 0);
  t.falsy(inspectOff['la.p3.w1'], 'no LA weights when LA is off');
  t.notDeepEqual(
    dOn.map((d) => d.map((x) => x.score)),
    dOff.map((d) => d.map((x) => x.score)),
  );
});
