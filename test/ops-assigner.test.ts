// The ATSS assigner (laxray/ops atssAssign) on hand-built scenes: which anchors
// are positive and why, and against an independent implementation written here.
import test from 'ava';
import { LaxrayError } from '../lib/errors.js';
import { atssAssign } from '../lib/ops.js';
import { boxes, lcg } from './helpers/numbers.js';


// Two levels in one row along x (y from 0):
//   level 0 (10×10): a0 [0,0,10,10] c(5,5)   a1 [10,0,20,10] c(15,5)  a2 [20,0,30,10] c(25,5)  a3 [30,0,40,10] c(35,5)
//   level 1 (20×20): a4 [0,0,20,20] c(10,10) a5 [20,0,40,20] c(30,10) a6 [40,0,60,20] c(50,10)
const anchors = boxes(
  [0, 0, 10, 10], [10, 0, 20, 10], [20, 0, 30, 10], [30, 0, 40, 10],
  [0, 0, 20, 20], [20, 0, 40, 20], [40, 0, 60, 20],
);
const perLevel = [4, 3];

test('hand-built scene: distance candidates, mean + std threshold, centre-inside test, shared anchor to the higher IoU', async (t) => {
  // gt0 = [34,0,40,20] (label 0, area 120, centre (37,10)); gt1 = [30,0,40,10] (label 1, = a3, centre (35,5)). topk 3.
  //
  // gt0, candidates: level 0 by centre distance: a3 √(2²+5²) = 5.39, a2 √(12²+5²) = 13, a1 22.6, a0 32.4
  //   -> a3, a2, a1 (a0 is not a candidate); level 1 has 3 anchors -> all (a5 7, a6 13, a4 27).
  //   IoUs: a3 ∩ gt0 = [34,0,40,10] = 60, union 100 + 120 − 60 = 160 -> 0.375; a5 ∩ gt0 = gt0 = 120, union 400 -> 0.3;
  //   a2, a1, a6, a4: 0.
  //   mean = 0.675 / 6 = 0.1125; unbiased var = (0.2625² + 0.1875² + 4 · 0.1125²) / 5 = 0.1546875 / 5 = 0.0309375;
  //   std = 0.175890; threshold = 0.288390.
  //   a3: 0.375 >= thr, centre (35,5) inside gt0 -> positive.
  //   a5: 0.3 >= thr but its centre (30,10) lies left of gt0's x1 = 34 -> rejected.
  // gt1: candidates a3 (distance 0), a2 (10), a1 (20); a5, a6, a4.
  //   IoUs: a3 1.0; a5 ∩ gt1 = 100, union 400 -> 0.25; a2 only touches (x = 30) -> 0; others 0.
  //   mean = 1.25 / 6 = 0.208333; var = (0.791667² + 0.041667² + 4 · 0.208333²) / 5 = 0.802083 / 5 = 0.160417;
  //   std = 0.400521; threshold = 0.608854 -> a3 (1.0) positive; a5 (0.25) not.
  // a3 is positive for both: IoU 1.0 with gt1 > 0.375 with gt0 -> gt1, label 1. gt0 ends with no positive.
  const gt = boxes([34, 0, 40, 20], [30, 0, 40, 10]);
  const result = await atssAssign(anchors, perLevel, gt, new Int32Array([0, 1]), { topk: 3, numClasses: 2 });
  t.deepEqual(Array.from(result.labels), [-1, -1, -1, 1, -1, -1, -1]);
  t.deepEqual(Array.from(result.matchedGt), [-1, -1, -1, 1, -1, -1, -1]);
  t.true(Math.abs(result.thresholds[0]! - 0.28839) < 1e-5, `thr0 ${result.thresholds[0]}`);
  t.true(Math.abs(result.thresholds[1]! - 0.608854) < 1e-5, `thr1 ${result.thresholds[1]}`);
  // maxIou: a3 -> its matched gt (1.0); a5 (background) -> its best IoU over all gts, max(0.3, 0.25).
  t.true(Math.abs(result.maxIou[3]! - 1) < 1e-6);
  t.true(Math.abs(result.maxIou[5]! - 0.3) < 1e-6);

  // Alone, gt0 keeps a3 (label 0): the shared-anchor rule, not the threshold, moved it to gt1 above.
  const alone = await atssAssign(anchors, perLevel, boxes([34, 0, 40, 20]), new Int32Array([0]), { topk: 3 });
  t.deepEqual(Array.from(alone.labels), [-1, -1, -1, 0, -1, -1, -1]);
  t.deepEqual(Array.from(alone.matchedGt), [-1, -1, -1, 0, -1, -1, -1]);
});

test('topk decides the candidates: with topk 1 per level only the nearest anchor of each level competes', async (t) => {
  // gt = [0,0,12,10] (area 120, centre (6,5)); topk 4 would take all; take topk 2:
  //   level 0: a0 (distance 1), a1 (9); level 1: a4 (√(4²+5²) = 6.40), a5 (24.5).
  //   IoUs: a0 100/120 = 0.8333; a1 ∩ = [10,0,12,10] = 20, union 200 -> 0.1; a4 ∩ = gt = 120, union 400 -> 0.3; a5 0.
  //   mean 1.2333/4 = 0.308333; var = (0.525² + 0.208333² + 0.008333² + 0.308333²)/3 = 0.414167/3 = 0.138056;
  //   std 0.371559; thr 0.679892 -> a0 only (centre (5,5) inside).
  const r = await atssAssign(anchors, perLevel, boxes([0, 0, 12, 10]), new Int32Array([3]), { topk: 2 });
  t.deepEqual(Array.from(r.labels), [3, -1, -1, -1, -1, -1, -1]);
  t.true(Math.abs(r.thresholds[0]! - 0.679892) < 1e-5);
});

test('an image without gt boxes is all background', async (t) => {
  const r = await atssAssign(anchors, perLevel, new Float32Array(0), new Int32Array(0));
  t.deepEqual(Array.from(r.labels), new Array(7).fill(-1));
  t.deepEqual(Array.from(r.matchedGt), new Array(7).fill(-1));
  t.deepEqual(Array.from(r.maxIou), new Array(7).fill(0));
  t.is(r.thresholds.length, 0);
});

// An independent ATSS (mmdetection's ATSSAssigner) for random scenes.
function referenceAtss(anchorsFlat: Float32Array, levels: number[], gtFlat: Float32Array, gtLabels: Int32Array, topk: number): number[] {
  const A = anchorsFlat.length / 4;
  const G = gtFlat.length / 4;
  const box = (f: Float32Array, i: number): number[] => [f[4 * i]!, f[4 * i + 1]!, f[4 * i + 2]!, f[4 * i + 3]!];
  const iou = (a: number[], b: number[]): number => {
    const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
    const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
    const inter = w * h;
    const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
    return union > 0 ? inter / union : 0;
  };
  const best = new Array<number>(A).fill(-Infinity);
  const labels = new Array<number>(A).fill(-1);
  for (let g = 0; g < G; g++) {
    const gt = box(gtFlat, g);
    const gx = (gt[0]! + gt[2]!) / 2, gy = (gt[1]! + gt[3]!) / 2;
    const candidates: number[] = [];
    let start = 0;
    for (const n of levels) {
      const idx = Array.from({ length: n }, (_, i) => start + i);
      const dist = (i: number): number => {
        const a = box(anchorsFlat, i);
        return Math.hypot((a[0]! + a[2]!) / 2 - gx, (a[1]! + a[3]!) / 2 - gy);
      };
      idx.sort((p, q) => dist(p) - dist(q) || p - q);
      candidates.push(...idx.slice(0, Math.min(topk, n)));
      start += n;
    }
    const ious = candidates.map((i) => iou(box(anchorsFlat, i), gt));
    const mean = ious.reduce((s, v) => s + v, 0) / ious.length;
    const std = Math.sqrt(ious.reduce((s, v) => s + (v - mean) ** 2, 0) / (ious.length - 1));
    candidates.forEach((i, k) => {
      const a = box(anchorsFlat, i);
      const cx = (a[0]! + a[2]!) / 2, cy = (a[1]! + a[3]!) / 2;
      const inside = Math.min(cx - gt[0]!, cy - gt[1]!, gt[2]! - cx, gt[3]! - cy) > 0.01;
      if (ious[k]! >= mean + std && inside && ious[k]! > best[i]!) {
        best[i] = ious[k]!;
        labels[i] = gtLabels[g]!;
      }
    });
  }
  return labels;
}

test('random scenes on an FPN-like anchor grid agree with an independent implementation', async (t) => {
  // Anchors as generateAnchors makes them: strides 8, 16, 32 on a 64×48 image, side 8·stride, centres (x·s, y·s).
  const rows: number[][] = [];
  const levels: number[] = [];
  for (const s of [8, 16, 32]) {
    const h = Math.ceil(48 / s), w = Math.ceil(64 / s);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows.push([x * s - 4 * s, y * s - 4 * s, x * s + 4 * s, y * s + 4 * s]);
    levels.push(h * w);
  }
  const anchorsFlat = boxes(...rows);
  const rand = lcg(12345);
  let positives = 0;
  for (let scene = 0; scene < 20; scene++) {
    const G = 1 + Math.floor(rand() * 4);
    const gts: number[][] = [];
    for (let g = 0; g < G; g++) {
      const x1 = rand() * 50, y1 = rand() * 36;
      gts.push([x1, y1, x1 + 4 + rand() * 40, y1 + 4 + rand() * 30]);
    }
    const gtFlat = boxes(...gts);
    const gtLabels = Int32Array.from({ length: G }, (_, g) => g % 3);
    const got = await atssAssign(anchorsFlat, levels, gtFlat, gtLabels, { topk: 9, numClasses: 3 });
    const expected = referenceAtss(anchorsFlat, levels, new Float32Array(gtFlat), gtLabels, 9);
    t.deepEqual(Array.from(got.labels), expected, `scene ${scene}`);
    positives += expected.filter((l) => l >= 0).length;
  }
  t.true(positives > 20, `scenes have positives (${positives})`);
});

test('bad gt boxes and labels are rejected with clear messages; the process carries on', async (t) => {
  const labels = new Int32Array([0, 1]);
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10], [12, 0, 8, 10]), labels), {
    instanceOf: LaxrayError,
    message: /atssAssign: gtBoxes: box 1 \[12, 0, 8, 10\] has x2 < x1/,
  });
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10], [0, Number.NaN, 8, 10]), labels), {
    message: /gtBoxes: box 1 .* non-finite/,
  });
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10], [0, 0, 8, 10]), new Int32Array([0, 5]), { numClasses: 2 }), {
    message: /gtLabels\[1\] = 5 is not a class id \[0, 2\)/,
  });
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10]), new Int32Array([-1])), { message: /gtLabels\[0\] = -1 is not a class id/ });
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10]), new Int32Array([0, 1])), {
    code: 'INVALID_ARGUMENT',
    message: /gtLabels must hold one label per gt box \(1\), got 2/,
  });
  await t.throwsAsync(atssAssign(anchors, [4, 4], boxes([0, 0, 10, 10]), new Int32Array([0])), {
    message: /numAnchorsPerLevel sums to 8 but anchors holds 7 boxes/,
  });
  await t.throwsAsync(atssAssign(anchors, perLevel, boxes([0, 0, 10, 10]), new Int32Array([0]), { topk: 0 }), { message: /topk must be an integer >= 1/ });
  await t.throwsAsync(atssAssign(anchors.subarray(0, 6), perLevel, boxes([0, 0, 10, 10]), new Int32Array([0])), {
    message: /anchors must hold rows of x1, y1, x2, y2/,
  });
  const ok = await atssAssign(anchors, perLevel, boxes([0, 0, 12, 10]), new Int32Array([1]), { topk: 2 });
  t.is(ok.labels[0], 1);
});
