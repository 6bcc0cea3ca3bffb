// The head-side math in the addon — anchors, ATSS targets, the detection losses
// and post-processing — run through the `headCheck` test hook on head outputs
// given as typed arrays, against values computed independently here.
import test from 'ava';
import { native, type NativeHeadCheckResult, type NativeHeadCheckSpec } from '../lib/native.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const bce = (x: number, t: number): number => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
const focal = (x: number, t: number): number => {
  const p = sigmoid(x);
  const pt = p * t + (1 - p) * (1 - t);
  return bce(x, t) * (1 - pt) ** 2 * (0.25 * t + 0.75 * (1 - t));
};
const area = (b: number[]): number => (b[2]! - b[0]!) * (b[3]! - b[1]!);
const iou = (a: number[], b: number[]): number => {
  const inter = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)) * Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  return inter / (area(a) + area(b) - inter);
};
const giou = (a: number[], b: number[]): number => {
  const inter = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)) * Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const union = area(a) + area(b) - inter;
  const hull = (Math.max(a[2]!, b[2]!) - Math.min(a[0]!, b[0]!)) * (Math.max(a[3]!, b[3]!) - Math.min(a[1]!, b[1]!));
  return inter / union - (hull - union) / hull;
};
const near = (t: import('ava').ExecutionContext, a: number, b: number, eps = 1e-4, what = ''): void => {
  t.true(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${what} ${a} vs ${b}`);
};
const row = (data: ArrayLike<number>, i: number, width = 4): number[] => Array.from({ length: width }, (_, k) => data[i * width + k]!);

function spec(overrides: Partial<NativeHeadCheckSpec> & Pick<NativeHeadCheckSpec, 'featureSizes' | 'strides'>): NativeHeadCheckSpec {
  const regression = overrides.regression ?? 'delta';
  const regMax = overrides.regMax ?? 16;
  const numClasses = overrides.numClasses ?? 2;
  const batch = overrides.batch ?? 1;
  let anchors = 0;
  for (let l = 0; l < overrides.strides.length; l++) anchors += overrides.featureSizes[2 * l]! * overrides.featureSizes[2 * l + 1]!;
  const regWidth = regression === 'delta' ? 4 : 4 * (regMax + 1);
  return {
    regression,
    regMax,
    numClasses,
    anchorScale: 8,
    batch,
    clsLogits: new Float32Array(batch * anchors * numClasses),
    boxRegression: new Float32Array(batch * anchors * regWidth),
    qualityLogits: new Float32Array(batch * anchors),
    gtBoxes: Array.from({ length: batch }, () => new Float32Array(0)),
    gtLabels: Array.from({ length: batch }, () => new Int32Array(0)),
    metas: [],
    ...overrides,
  };
}

test('anchors: one square of side 8·stride per location, centred at (x·s, y·s), levels P3.. then row-major', async (t) => {
  const r = await native.headCheck(spec({ featureSizes: [2, 3, 1, 2], strides: [8, 16] }), 'cpu');
  t.deepEqual(r.targets.anchors.shape, [8, 4]);
  t.deepEqual(Array.from(r.targets.anchors.data), [
    // level 0, stride 8, half side 32: (y0,x0) (y0,x1) (y0,x2) (y1,x0) (y1,x1) (y1,x2)
    -32, -32, 32, 32, -24, -32, 40, 32, -16, -32, 48, 32,
    -32, -24, 32, 40, -24, -24, 40, 40, -16, -24, 48, 40,
    // level 1, stride 16, half side 64: (y0,x0) (y0,x1)
    -64, -64, 64, 64, -48, -64, 80, 64,
  ]);
});

for (const regression of ['delta', 'distribution'] as const) {
  test(`${regression} head: a batch without positives gives finite losses (cls only) and finite gradients`, async (t) => {
    // All logits 0, no gt: every cls element is focal(0, 0) = 0.75 · 0.5² · ln 2; 8 anchors × 2 classes / max(0, 1).
    const r = await native.headCheck(spec({ regression, featureSizes: [2, 3, 1, 2], strides: [8, 16] }), 'cpu');
    t.is(r.numPositive, 0);
    near(t, r.losses.cls, 16 * 0.75 * 0.25 * Math.LN2);
    t.is(r.losses.box, 0);
    t.is(r.losses.quality, 0);
    if (regression === 'distribution') t.is(r.losses.distribution, 0);
    else t.is(r.losses.distribution, undefined);
    near(t, r.losses.total, r.losses.cls);
    t.true(r.gradsFinite);
    t.is(r.gradNorms.boxRegression, 0);
    t.true(r.gradNorms.clsLogits > 0);
    t.true(Array.from(r.targets.labels.data).every((l) => l === -1));
    t.true(Array.from(r.targets.distanceBins.data).every((b) => b === -1));

    // Extreme logits stay finite too.
    const s = spec({ regression, featureSizes: [2, 3, 1, 2], strides: [8, 16] });
    s.clsLogits = s.clsLogits.map((_, i) => (i % 2 ? 80 : -80));
    s.boxRegression = s.boxRegression.map((_, i) => (i % 3 ? 60 : -60));
    s.qualityLogits = s.qualityLogits.map(() => 90);
    const extreme = await native.headCheck(s, 'cpu');
    t.true(Number.isFinite(extreme.losses.total));
    t.true(extreme.gradsFinite);
  });
}

// A 64×64 input: P3 8×8 (stride 8), P4 4×4 (stride 16); one gt of class 1 in image 0, two gts in image 1.
const scene = { featureSizes: [8, 8, 4, 4], strides: [8, 16] };
const A = 80;
const gt0 = [10, 6, 58, 50];
const gt1 = [[0, 2, 48, 46], [20, 14, 62, 64]];
const sceneGt = {
  batch: 2,
  gtBoxes: [new Float32Array(gt0), new Float32Array(gt1.flat())],
  gtLabels: [new Int32Array([1]), new Int32Array([0, 1])],
};

/** The positive anchors of a headCheck on `scene` (2 images × A anchors): index k (image-major), anchor centre, stride (P3 8, P4 16) and gt box. */
function positiveAnchors(targets: NativeHeadCheckResult['targets']): { k: number; cx: number; cy: number; stride: number; gt: number[] }[] {
  const out: { k: number; cx: number; cy: number; stride: number; gt: number[] }[] = [];
  for (let k = 0; k < 2 * A; k++) {
    if (targets.labels.data[k]! < 0) continue;
    const an = row(targets.anchors.data, k % A);
    out.push({ k, cx: (an[0]! + an[2]!) / 2, cy: (an[1]! + an[3]!) / 2, stride: k % A < 64 ? 8 : 16, gt: row(targets.boxTargets.data, k) });
  }
  return out;
}

test('delta head: targets follow the coders, and losses match an independent computation', async (t) => {
  const base = spec({ ...scene, ...sceneGt });
  const cls = base.clsLogits.map((_, i) => Math.sin(i * 1.7) * 3);
  const quality = base.qualityLogits.map((_, i) => Math.cos(i * 0.9) * 2);
  const first = await native.headCheck({ ...base, clsLogits: cls, qualityLogits: quality }, 'cpu');
  t.true(first.numPositive >= 2, `positives: ${first.numPositive}`);
  const tg = first.targets;
  const anchors = tg.anchors.data;
  const labels = tg.labels.data;
  const gts = [[gt0], gt1];
  let expectedCls = 0;
  let quality_ = 0;
  const positives: number[] = [];
  for (let n = 0; n < 2; n++) {
    for (let a = 0; a < A; a++) {
      const k = n * A + a;
      const label = labels[k]!;
      for (let c = 0; c < 2; c++) expectedCls += focal(cls[k * 2 + c]!, label === c ? 1 : 0);
      if (label < 0) {
        t.deepEqual(row(tg.boxTargets.data, k), [0, 0, 0, 0]);
        t.deepEqual(row(tg.distanceBins.data, k), [-1, -1, -1, -1]);
        continue;
      }
      positives.push(k);
      const box = gts[n]![tg.matchedGt.data[k]!]!;
      t.is(label, sceneGt.gtLabels[n]![tg.matchedGt.data[k]!]!);
      t.deepEqual(row(tg.boxTargets.data, k), box);
      const an = row(anchors, a);
      const [pw, ph, px, py] = [an[2]! - an[0]!, an[3]! - an[1]!, (an[0]! + an[2]!) / 2, (an[1]! + an[3]!) / 2];
      const [gw, gh, gx, gy] = [box[2]! - box[0]!, box[3]! - box[1]!, (box[0]! + box[2]!) / 2, (box[1]! + box[3]!) / 2];
      // delta: ((gx − px)/pw, (gy − py)/ph, log(gw/pw), log(gh/ph)) / (0.1, 0.1, 0.2, 0.2)
      const deltas = [(gx - px) / pw / 0.1, (gy - py) / ph / 0.1, Math.log(gw / pw) / 0.2, Math.log(gh / ph) / 0.2];
      row(tg.deltaTargets.data, k).forEach((v, i) => near(t, v, deltas[i]!, 1e-4, 'delta'));
      // centerness: sqrt(min(l, r)/max(l, r) · min(t, b)/max(t, b)) from the anchor centre.
      const [l, tp, r, b] = [px - box[0]!, py - box[1]!, box[2]! - px, box[3]! - py];
      const centerness = Math.sqrt((Math.min(l, r) / Math.max(l, r)) * (Math.min(tp, b) / Math.max(tp, b)));
      near(t, tg.centerness.data[k]!, centerness, 1e-5, 'centerness');
      quality_ += bce(quality[k]!, centerness);
      // distance targets in stride units, clamped to [0, 15.99]; bins = floor.
      const stride = a < 64 ? 8 : 16;
      const dist = [l, tp, r, b].map((d) => Math.min(Math.max(d / stride, 0), 15.99));
      row(tg.distanceTargets.data, k).forEach((v, i) => near(t, v, dist[i]!, 1e-5, 'distance'));
      t.deepEqual(row(tg.distanceBins.data, k), dist.map((d) => Math.floor(d)));
    }
  }
  t.is(positives.length, first.numPositive);
  // mmdetection's num_total_samples: Σ over images of max(positives, 1).
  const numPos = [0, 1].reduce((sum, n) => sum + Math.max(positives.filter((k) => Math.floor(k / A) === n).length, 1), 0);
  near(t, first.losses.cls, expectedCls / numPos, 1e-4, 'cls');
  near(t, first.losses.quality, quality_ / numPos, 1e-4, 'quality');
  t.true(first.gradsFinite);

  // Predicting the delta targets exactly decodes to the gt boxes: GIoU loss 0; cls and quality unchanged.
  const exact = await native.headCheck({ ...base, clsLogits: cls, qualityLogits: quality, boxRegression: new Float32Array(tg.deltaTargets.data) }, 'cpu');
  near(t, exact.losses.box, 0, 1e-4, 'box');
  near(t, exact.losses.cls, first.losses.cls);
  t.true(first.losses.box > 0.1);
  // The box loss weights are the centerness targets: Σ over positives.
  const sumCenterness = positives.reduce((s, k) => s + tg.centerness.data[k]!, 0);
  near(t, first.qualityWeightSum, sumCenterness, 1e-4, 'Σ weights');
  // With zero deltas each positive predicts its anchor: box = 2 · Σ w·(1 − GIoU(anchor, gt)) / Σ w.
  let boxLoss = 0;
  for (const k of positives) {
    const a = k % A;
    boxLoss += tg.centerness.data[k]! * (1 - giou(row(anchors, a), row(tg.boxTargets.data, k)));
  }
  near(t, first.losses.box, (2 * boxLoss) / sumCenterness, 1e-4, 'box (anchors)');
  near(t, first.losses.total, first.losses.cls + first.losses.box + first.losses.quality, 1e-5, 'total');
});

test('distribution head: IoU-weighted GIoU, quality BCE and bin focal losses match an independent computation', async (t) => {
  // All regression logits 0: every side's distribution is uniform over 0..16, integral 8 -> the
  // predicted box is the anchor centre ± 8·stride. Quality logits 0: BCE(0, iou) = ln 2 for any target.
  const base = spec({ ...scene, ...sceneGt, regression: 'distribution' });
  const r = await native.headCheck(base, 'cpu');
  t.true(r.numPositive >= 2);
  let sumIou = 0;
  let box = 0;
  for (const { cx, cy, stride, gt } of positiveAnchors(r.targets)) {
    const pred = [cx - 8 * stride, cy - 8 * stride, cx + 8 * stride, cy + 8 * stride];
    const w = iou(pred, gt);
    sumIou += w;
    box += w * (1 - giou(pred, gt));
  }
  near(t, r.qualityWeightSum, sumIou, 1e-4, 'Σ IoU');
  const norm = sumIou; // the authors divide by Σ weights unless it is below 1e-12
  near(t, r.losses.box, (2 * box) / norm, 1e-4, 'box');
  near(t, r.losses.quality, Math.LN2, 1e-5, 'quality');
  // Per side: 16 bins with target 0 and one with target 1, all at logit 0.
  const perSide = 16 * focal(0, 0) + focal(0, 1);
  // Weight 1.0: the authors' loss_d.
  near(t, r.losses.distribution!, (1.0 * ((perSide * 4) / 4) * sumIou) / norm, 1e-4, 'distribution');
  near(t, r.losses.total, r.losses.cls + r.losses.box + r.losses.quality + r.losses.distribution!, 1e-5);
  t.true(r.gradsFinite);
  t.true(r.gradNorms.boxRegression > 0);
});

test('bad gt reaches the caller as an error naming the image; the process carries on', async (t) => {
  const s = spec({ ...scene, ...sceneGt, gtBoxes: [new Float32Array(gt0), new Float32Array([2, 2, 1, 12, 20, 14, 62, 64])] });
  await t.throwsAsync(native.headCheck(s, 'cpu'), { message: /image 1: atssAssign: gtBoxes: box 0 \[2, 2, 1, 12\] has x2 < x1/ });
  const labels = spec({ ...scene, ...sceneGt, gtLabels: [new Int32Array([2]), new Int32Array([0, 1])] });
  await t.throwsAsync(native.headCheck(labels, 'cpu'), { message: /image 0: atssAssign: gtLabels\[0\] = 2 is not a class id \[0, 2\)/ });
  t.true((await native.headCheck(spec({ ...scene, ...sceneGt }), 'cpu')).gradsFinite);
});

test('a spec with a missing or mistyped field is refused at the call, naming the field', (t) => {
  const good = spec({ ...scene, ...sceneGt });
  const meta = { inputWidth: 36, inputHeight: 20, scaleX: 2, scaleY: 2, originalWidth: 18, originalHeight: 10 };
  const { batch: _batch, ...noBatch } = good;
  const { scaleX: _scaleX, ...noScale } = meta;
  const cases: [unknown, RegExp][] = [
    [noBatch, /^headCheck: spec\.batch is missing$/],
    [{ ...good, regMax: '16' }, /^headCheck: spec\.regMax must be a number$/],
    [{ ...good, regression: 'bins' }, /^headCheck: spec\.regression must be 'delta' or 'distribution'$/],
    [{ ...good, qualityTarget: 'giou' }, /^headCheck: spec\.qualityTarget must be 'iou' or 'centerness'$/],
    [{ ...good, featureSizes: [8, 8, 4] }, /^headCheck: spec\.featureSizes must list height, width per level/],
    [{ ...good, gtBoxes: [new Float32Array(3)] }, /^headCheck: spec\.gtBoxes\[0\] must hold rows of 4 \(x1, y1, x2, y2\) values; its length 3/],
    [{ ...good, gtLabels: [new Float32Array(1)] }, /^headCheck: spec\.gtLabels\[0\] must be an Int32Array$/],
    [{ ...good, metas: [noScale] }, /^headCheck: spec\.metas\[0\]\.scaleX is missing$/],
    [{ ...good, metas: [meta], postprocess: { nms: 'gpu' } }, /^headCheck: spec\.postprocess\.nms must be 'host' or 'device'$/],
  ];
  for (const [bad, message] of cases) {
    t.throws(() => native.headCheck(bad as NativeHeadCheckSpec, 'cpu'), { code: 'INVALID_ARGUMENT', message }, String(message));
  }
});

test('post-processing: top scores by cls × quality, threshold on the class score, class-wise NMS, clip and map back', async (t) => {
  // P3 3×5 (stride 8) + P4 2×3 (stride 16), anchorScale 2 (side 16 on P3), 3 classes; everything at logit −10 except:
  //   anchor 7 (y1, x2): centre (16, 8), box [8,0,24,16]; class 0 logit 10, quality 10 -> σ(10)² = 0.99991.
  //   anchor 8 (y1, x3): centre (24, 8) shifted by dx = −3.75 (· 0.1 · 16 = −6 px) -> [10,0,26,16];
  //     class 0 logit 2 -> σ(2)·σ(10) = 0.8807: IoU with anchor 7's box = 14·16 / (256 + 256 − 224) = 0.778 > 0.6 -> suppressed;
  //     class 2 logit 1 -> σ(1)·σ(10) = 0.7310: another class, kept.
  //   anchor 0 (y0, x0): [−8,−8,8,8] clipped to [0,0,8,8]; class 1 logit 0, quality 0 -> 0.25.
  //   anchor 14 (y2, x4): [24,8,40,24] clipped to the 36×20 input -> [24,8,36,20]; class 1 logit 3, quality 3 -> σ(3)² = 0.9074.
  //   anchor 12 (y2, x2): [8,8,24,24] -> clipped [8,8,24,20]; class 1 and quality at σ = 0.2: the class score 0.2 passes
  //     the 0.05 threshold (mmdet v2 thresholds before multiplying by the quality) -> kept with score 0.04.
  //   anchor 13 (y2, x3): class 2 at σ = 0.045, quality 10: 0.045 < 0.05 -> dropped.
  // Input 36×20 is the original 18×10 scaled by 2: boxes / 2, clipped to 18×10.
  const C = 3;
  const s = spec({ featureSizes: [3, 5, 2, 3], strides: [8, 16], numClasses: C, anchorScale: 2 });
  s.clsLogits.fill(-10);
  s.qualityLogits.fill(-10);
  const setCls = (a: number, c: number, v: number): void => {
    s.clsLogits[a * C + c] = v;
  };
  setCls(7, 0, 10); s.qualityLogits[7] = 10;
  setCls(8, 0, 2); setCls(8, 2, 1); s.qualityLogits[8] = 10; s.boxRegression[8 * 4] = -3.75;
  setCls(0, 1, 0); s.qualityLogits[0] = 0;
  setCls(14, 1, 3); s.qualityLogits[14] = 3;
  const logit02 = Math.log(0.2 / 0.8);
  setCls(12, 1, logit02); s.qualityLogits[12] = logit02;
  setCls(13, 2, Math.log(0.045 / 0.955)); s.qualityLogits[13] = 10;
  s.metas = [{ inputWidth: 36, inputHeight: 20, scaleX: 2, scaleY: 2, originalWidth: 18, originalHeight: 10 }];
  const r = await native.headCheck(s, 'cpu');
  t.is(r.detections.length, 1);
  const d = r.detections[0]!;
  t.deepEqual(Array.from(d.labels), [0, 1, 2, 1, 1]);
  const expectedScores = [sigmoid(10) ** 2, sigmoid(3) ** 2, sigmoid(1) * sigmoid(10), 0.25, 0.04];
  expectedScores.forEach((v, i) => near(t, d.scores[i]!, v, 1e-5, `score ${i}`));
  const expectedBoxes = [[4, 0, 12, 8], [12, 4, 18, 10], [5, 0, 13, 8], [0, 0, 4, 4], [4, 4, 12, 10]];
  expectedBoxes.forEach((b, i) => row(d.boxes, i).forEach((v, k) => near(t, v, b[k]!, 1e-4, `box ${i}`)));

  // nmsPre 1 keeps the best anchor of each level by max-class cls × quality (level 0: anchor 7; level 1 scores nothing);
  // maxPerImage 3 keeps the first three of the full result.
  const onePerLevel = await native.headCheck({ ...s, postprocess: { nmsPre: 1 } }, 'cpu');
  t.deepEqual(Array.from(onePerLevel.detections[0]!.labels), [0]);
  const three = await native.headCheck({ ...s, postprocess: { maxPerImage: 3 } }, 'cpu');
  t.deepEqual(Array.from(three.detections[0]!.labels), [0, 1, 2]);
  // A higher threshold on the class score: 0.5 keeps anchors 7 (0.99995), 14 (0.953), 8 class 2 (0.731); drops anchor 0 (0.5, not > 0.5).
  const strict = await native.headCheck({ ...s, postprocess: { scoreThreshold: 0.5 } }, 'cpu');
  t.deepEqual(Array.from(strict.detections[0]!.labels), [0, 1, 2]);

  // The distribution head decodes Σ softmax · bin × stride: all-zero logits -> 8 bins each side.
  const dist = spec({ featureSizes: [3, 5, 2, 3], strides: [8, 16], numClasses: C, anchorScale: 2, regression: 'distribution', regMax: 4 });
  dist.clsLogits.fill(-10);
  dist.qualityLogits.fill(-10);
  dist.clsLogits[7 * C] = 10;
  dist.qualityLogits[7] = 10;
  // regMax 4: integral of a uniform distribution over 0..4 is 2 -> anchor 7's centre (16, 8) ± 16 -> [0,−8,32,24]
  //   -> clipped to the input [0,0,32,20] -> original [0,0,16,10].
  dist.metas = s.metas;
  const rd = await native.headCheck(dist, 'cpu');
  t.deepEqual(Array.from(rd.detections[0]!.labels), [0]);
  row(rd.detections[0]!.boxes, 0).forEach((v, k) => near(t, v, [0, 0, 16, 10][k]!, 1e-4, 'distribution box'));
});

test("LAreg's head: the ATSS centerness is the quality target and weights the GIoU and bin losses", async (t) => {
  // As the distribution test above (all logits 0: the predicted box is the anchor centre ± 8·stride),
  // but the quality target is the centerness target, as in the authors' ATSSLAregHead.
  const r = await native.headCheck(spec({ ...scene, ...sceneGt, regression: 'distribution', qualityTarget: 'centerness' }), 'cpu');
  let sumC = 0;
  let box = 0;
  for (const { cx, cy, stride, gt } of positiveAnchors(r.targets)) {
    const [l, tp, rr, b] = [cx - gt[0]!, cy - gt[1]!, gt[2]! - cx, gt[3]! - cy];
    const c = Math.sqrt((Math.min(l, rr) / Math.max(l, rr)) * (Math.min(tp, b) / Math.max(tp, b)));
    sumC += c;
    box += c * (1 - giou([cx - 8 * stride, cy - 8 * stride, cx + 8 * stride, cy + 8 * stride], gt));
  }
  near(t, r.qualityWeightSum, sumC, 1e-4, 'Σ centerness');
  near(t, r.losses.box, (2 * box) / sumC, 1e-4, 'box');
  near(t, r.losses.quality, Math.LN2, 1e-5, 'quality');
  const perSide = 16 * focal(0, 0) + focal(0, 1);
  near(t, r.losses.distribution!, (perSide * sumC) / sumC, 1e-4, 'distribution');
});

test('the quality loss reaches its floor Σ H(t) / num_pos exactly when each quality logit is logit(t)', async (t) => {
  // BCE against a soft target t is at least the entropy H(t) (ln 2 at t = 0.5): a quality loss
  // that stays near 0.69 can be at its floor, not stuck.
  const base = spec({ ...scene, ...sceneGt, regression: 'distribution' });
  const first = await native.headCheck(base, 'cpu');
  const entropy = (p: number): number => (p <= 0 || p >= 1 ? 0 : -p * Math.log(p) - (1 - p) * Math.log(1 - p));
  const quality = new Float32Array(base.qualityLogits.length);
  let floor = 0;
  for (const { k, cx, cy, stride, gt } of positiveAnchors(first.targets)) {
    const target = iou([cx - 8 * stride, cy - 8 * stride, cx + 8 * stride, cy + 8 * stride], gt);
    floor += entropy(target);
    quality[k] = Math.log(target / (1 - target));
  }
  const numPos = first.numPositive; // both images have positives
  near(t, first.qualityFloor, floor / numPos, 1e-4, 'floor');
  near(t, first.losses.quality_floor, first.qualityFloor, 1e-6, 'reported beside the losses');
  t.true(first.losses.quality > first.qualityFloor);
  const atFloor = await native.headCheck({ ...base, qualityLogits: quality }, 'cpu');
  near(t, atFloor.losses.quality, floor / numPos, 1e-4, 'quality at logit(t)');
  near(t, atFloor.qualityFloor, first.qualityFloor, 1e-6, 'the floor does not depend on the logits');
});

test('num_pos counts every image as at least one positive (mmdetection): an image without gt adds 1', async (t) => {
  const s = spec({ ...scene, ...sceneGt, gtBoxes: [new Float32Array(gt0), new Float32Array(0)], gtLabels: [new Int32Array([1]), new Int32Array(0)] });
  s.clsLogits = s.clsLogits.map((_, i) => Math.sin(i * 1.3) * 2);
  const r = await native.headCheck(s, 'cpu');
  t.true(r.numPositive >= 1);
  let cls = 0;
  for (let k = 0; k < 2 * A; k++) for (let c = 0; c < 2; c++) cls += focal(s.clsLogits[k * 2 + c]!, r.targets.labels.data[k] === c ? 1 : 0);
  near(t, r.losses.cls, cls / (r.numPositive + 1), 1e-4, 'cls / (pos + 1)');
});

test('anchors on padding beyond an image extent are neither assigned nor in the cls loss (mmdetection valid flags)', async (t) => {
  // Image 0 is 30 px wide inside the 64×64 batch, padded to 32 (its pad_shape): valid are
  // x < ceil(32 / 8) = 4 on P3 and x < ceil(32 / 16) = 2 on P4. Image 1 fills the batch.
  const box0 = [2, 6, 30, 50];
  const s = spec({ ...scene, ...sceneGt, gtBoxes: [new Float32Array(box0), new Float32Array(gt1.flat())], padSizes: [32, 64, 64, 64] });
  s.clsLogits = s.clsLogits.map((_, i) => Math.cos(i * 0.7) * 2);
  const r = await native.headCheck(s, 'cpu');
  const expectedValid = (n: number, a: number): boolean => {
    if (n === 1) return true;
    return a < 64 ? a % 8 < 4 : (a - 64) % 4 < 2;
  };
  for (let n = 0; n < 2; n++)
    for (let a = 0; a < A; a++) t.is(r.targets.valid.data[n * A + a], expectedValid(n, a) ? 1 : 0, `valid ${n}/${a}`);
  // Image 0's assignment is ATSS on its 32 + 8 valid anchors alone: a candidate on P4 at x = 2 (centre 32)
  // would otherwise enter the top 9 and change the IoU threshold.
  const inside = Array.from({ length: A }, (_, a) => a).filter((a) => expectedValid(0, a));
  const subset = Float32Array.from(inside.flatMap((a) => row(r.targets.anchors.data, a)));
  const alone = await native.atssAssign(subset, [32, 8], new Float32Array(box0), new Int32Array([1]), 9, 2, 'cpu');
  const labels0 = Array.from(r.targets.labels.data.slice(0, A));
  t.deepEqual(inside.map((a) => labels0[a]), Array.from(alone.labels));
  t.true(labels0.every((l, a) => expectedValid(0, a) || l === -1));
  const unrestricted = await native.atssAssign(r.targets.anchors.data as Float32Array, [64, 16], new Float32Array(box0), new Int32Array([1]), 9, 2, 'cpu');
  t.notDeepEqual(Array.from(unrestricted.labels), labels0, 'the padding changes the assignment in this scene');
  // cls: focal summed over the valid anchors only, / Σ max(positives, 1).
  let cls = 0;
  for (let k = 0; k < 2 * A; k++) {
    if (!expectedValid(Math.floor(k / A), k % A)) continue;
    for (let c = 0; c < 2; c++) cls += focal(s.clsLogits[k * 2 + c]!, r.targets.labels.data[k] === c ? 1 : 0);
  }
  const positives = [0, 1].map((n) => Array.from(r.targets.labels.data.slice(n * A, (n + 1) * A)).filter((l) => l >= 0).length);
  near(t, r.losses.cls, cls / (Math.max(positives[0]!, 1) + Math.max(positives[1]!, 1)), 1e-4, 'cls over valid anchors');
});
