// Training in the addon: 30 SGD steps overfit two synthetic images for ATSS,
// ATSS+LAcls and ATSS+LAreg (loss falls, detections reach IoU > 0.5 with their
// targets); an image without boxes trains as all-negative without NaN; bad
// targets are refused with what was wrong.
import test from 'ava';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import type { TrainingBatch, ImageMeta } from '../lib/data/index.js';

const SIZE = 128;
const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];

/** Two scenes of bright objects on a dark, textured background; boxes are the objects' exact extents. */
function scenes(): { data: Float32Array; boxes: number[][][]; labels: number[][] } {
  const boxes = [
    [[16, 20, 72, 60], [70, 74, 120, 118]],
    [[40, 30, 100, 96]],
  ];
  const labels = [[0, 1], [1]];
  const colours = [[250, 200, 40], [40, 120, 250]];
  const data = new Float32Array(2 * 3 * SIZE * SIZE);
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        let rgb = [20 + ((x * 7 + y * 13) % 17), 20, 25];
        boxes[n]!.forEach((b, k) => {
          if (x >= b[0]! && x < b[2]! && y >= b[1]! && y < b[3]!) rgb = colours[labels[n]![k]!]!;
        });
        for (let c = 0; c < 3; c++) data[((n * 3 + c) * SIZE + y) * SIZE + x] = (rgb[c]! - MEAN[c]!) / STD[c]!;
      }
  }
  return { data, boxes, labels };
}

function batchOf(scene: ReturnType<typeof scenes>): TrainingBatch {
  const meta = (imageId: number): ImageMeta => ({
    imageId, originalWidth: SIZE, originalHeight: SIZE, resizedWidth: SIZE, resizedHeight: SIZE,
    scaleX: 1, scaleY: 1, flipped: false, padRight: 0, padBottom: 0,
  });
  return {
    data: scene.data,
    shape: [2, 3, SIZE, SIZE],
    metas: [meta(0), meta(1)],
    targets: scene.boxes.map((bs, n) => ({
      boxes: Float32Array.from(bs.flat()),
      labels: Int32Array.from(scene.labels[n]!),
      ignoreBoxes: new Float32Array(0),
      annotationIds: bs.map((_, k) => k),
    })),
    epoch: 0,
    index: 0,
  };
}

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = w * h;
  return inter / ((a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter);
}

const tiny = (regression: 'delta' | 'distribution', la: 'none' | 'cls' | 'reg') => ({
  classes: ['bright', 'blue'],
  model: {
    backbone: { depth: 18 as const, norm: 'gn' as const },
    neck: { outChannels: 64 },
    head: { regression, la, featChannels: 64, stackedConvs: 2 },
  },
  train: { seed: 1 },
});

for (const [name, regression, la] of [
  ['ATSS', 'delta', 'none'],
  ['ATSS+LAcls', 'distribution', 'cls'],
  ['ATSS+LAreg', 'distribution', 'reg'],
] as const) {
  test(`${name}: 30 SGD steps overfit two images (loss falls, every box found with IoU > 0.5)`, async (t) => {
    const detector = await Detector.create(tiny(regression, la));
    detector.configureOptimizer({ momentum: 0.9, weightDecay: 1e-4, gradClipNorm: 35 });
    const scene = scenes();
    const batch = batchOf(scene);
    const totals: number[] = [];
    for (let step = 0; step < 30; step++) {
      const lr = 0.01 * Math.min(1, (step + 1) / 5); // short warm-up
      const result = await detector.trainStep(batch, lr);
      t.true(result.finite, `step ${step} finite`);
      t.true(result.numPositives > 0);
      totals.push(result.total);
    }
    const first = totals.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = totals.slice(-3).reduce((a, b) => a + b) / 3;
    t.true(last < 0.6 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
    const detections = await detector.detect({ data: batch.data, shape: batch.shape });
    scene.boxes.forEach((boxes, n) => {
      boxes.forEach((box, k) => {
        const best = Math.max(0, ...detections[n]!.filter((d) => d.label === scene.labels[n]![k]).map((d) => iou(d.box, box)));
        t.true(best > 0.5, `image ${n} box ${k}: best IoU ${best.toFixed(3)}`);
      });
    });
  });
}

test('an image with no boxes trains as all-negative without NaN', async (t) => {
  const detector = await Detector.create(tiny('distribution', 'cls'));
  const batch = batchOf(scenes());
  batch.targets[1] = { boxes: new Float32Array(0), labels: new Int32Array(0), ignoreBoxes: new Float32Array(0), annotationIds: [] };
  const result = await detector.trainStep(batch, 0.01);
  t.true(result.finite);
  t.true(Number.isFinite(result.losses.cls!) && result.losses.cls! > 0);
  const empty = batchOf(scenes());
  empty.targets = empty.targets.map(() => ({ boxes: new Float32Array(0), labels: new Int32Array(0), ignoreBoxes: new Float32Array(0), annotationIds: [] }));
  const none = await detector.trainStep(empty, 0.01);
  t.true(none.finite);
  t.is(none.numPositives, 0);
  t.is(Math.abs(none.losses.box!), 0);
});

test('bad targets are refused naming the image and box, and training goes on', async (t) => {
  const detector = await Detector.create(tiny('delta', 'none'));
  const bad = (boxes: number[], label = 0) => {
    const batch = batchOf(scenes());
    batch.targets[1] = { boxes: Float32Array.from(boxes), labels: Int32Array.from([label]), ignoreBoxes: new Float32Array(0), annotationIds: [0] };
    return detector.trainStep(batch, 0.01);
  };
  await t.throwsAsync(bad([50, 10, 20, 40]), { instanceOf: LaxrayError, message: /image 1, box 0 .*x2 < x1/ });
  await t.throwsAsync(bad([10, 10, 400, 40]), { instanceOf: LaxrayError, message: /image 1, box 0 .*outside the 128x128 input/ });
  await t.throwsAsync(bad([10, 10, 40, 40], 7), { instanceOf: LaxrayError, message: /image 1 .*box 0: label 7 is not a class id of this model: it has 2 classes/ });
  await t.throwsAsync(bad([10, 10, 40, 40], -1), { instanceOf: LaxrayError, message: /box 0: label -1 is not a class id/ });
  await t.throwsAsync(bad([10, NaN, 40, 40]), { instanceOf: LaxrayError, message: /not finite/ });
  const ok = await detector.trainStep(batchOf(scenes()), 0.01);
  t.true(ok.finite);
});

test("frozen BN is mmdetection's norm_eval: statistics fixed, γ/β trained after the frozen stages, frozen stages unchanged", async (t) => {
  const detector = await Detector.create({
    ...tiny('distribution', 'cls'),
    model: { ...tiny('distribution', 'cls').model, backbone: { depth: 18, norm: 'frozen_bn', frozenStages: 1 } },
  });
  detector.configureOptimizer({ momentum: 0.9, weightDecay: 1e-4, gradClipNorm: null });
  // Snapshot: on the CPU stateDict's arrays may view the live parameters.
  const snapshot = async () => Object.fromEntries(Object.entries(await detector.stateDict()).map(([k, v]) => [k, { data: Array.from(v.data) }]));
  const before = await snapshot();
  const result = await detector.trainStep(batchOf(scenes()), 0.01);
  t.true(result.finite);
  const after = await snapshot();
  const changed = (name: string) => {
    const a = before[name]!.data;
    const b = after[name]!.data;
    return a.some((v, i) => v !== b[i]);
  };
  const backbone = Object.keys(before).filter((k) => k.startsWith('backbone.'));
  const stats = backbone.filter((k) => /running_(mean|var)|num_batches_tracked/.test(k));
  t.true(stats.length > 0);
  for (const k of stats) t.false(changed(k), `${k} is a frozen statistic`);
  const frozen = backbone.filter((k) => /^backbone\.(conv1|bn1|layer1)\./.test(k));
  t.true(frozen.length > 0);
  for (const k of frozen) t.false(changed(k), `${k} is in a frozen stage`);
  for (const k of ['backbone.layer2.0.bn1.weight', 'backbone.layer2.0.bn1.bias', 'backbone.layer4.1.bn2.weight', 'backbone.layer3.0.conv1.weight']) {
    t.true(changed(k), `${k} trains`);
  }
});

test("anchors on the batch padding beyond an image's own extent take no part in training", async (t) => {
  // Image 0 claims to be 60 px wide in the 128-wide batch (extent 64 after padding to 32). A box
  // placed in its padding (x >= 64) then has no valid anchor centred inside it: no positive, as if
  // image 0 had no box; with the full width it has positives. (The exact rule is checked on
  // hand-made head outputs in ops-losses.test.ts.)
  const detector = await Detector.create(tiny('distribution', 'cls'));
  const withBox = (resizedWidth: number, boxes: number[]) => {
    const batch = batchOf(scenes());
    batch.targets[0] = { ...batch.targets[0]!, boxes: Float32Array.from(boxes), labels: Int32Array.from(boxes.length ? [0] : []) };
    batch.metas[0] = { ...batch.metas[0]!, resizedWidth, padRight: SIZE - resizedWidth };
    return detector.trainStep(batch, 0);
  };
  const inPadding = [76, 20, 124, 70];
  const full = await withBox(SIZE, inPadding);
  const narrow = await withBox(60, inPadding);
  const none = await withBox(60, []);
  t.true(full.finite && narrow.finite && none.finite);
  t.true(full.numPositives > none.numPositives, `full width: ${full.numPositives} vs ${none.numPositives} positives`);
  t.is(narrow.numPositives, none.numPositives);
});
