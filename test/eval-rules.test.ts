// Hand-worked cases, one per pycocotools rule. Every expected number is worked
// out in the comment beside it (and agrees with pycocotools 2.0.11).
import test from 'ava';
import { evaluateCoco, type CocoEvalResult } from '../lib/eval/index.js';
import { ann, dataset, det } from './fixtures/eval/build.js';

// Precision is tp / (tp + fp + eps) as in pycocotools, so a "perfect" 1 is 1/(1 + 2^-52) =
// 0.9999999999999998 there and here: compare hand-worked values to 1e-12.
const close = (actual: number | null, expected: number, eps = 1e-12): boolean => actual !== null && Math.abs(actual - expected) <= eps;

/** The stats rounded to 12 decimals (-1 stays -1). */
function statsOf(r: CocoEvalResult): number[] {
  return r.statsArray.map((v) => Math.round(v * 1e12) / 1e12);
}

function approx(t: { true(c: boolean, m?: string): void }, actual: number | null, expected: number): void {
  t.true(close(actual, expected), `expected ${expected}, got ${actual}`);
}

test('a perfect detection scores 1 where there is ground truth and -1 elsewhere', (t) => {
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, 10, 10], 0.9)]);
  // area 100 is "small": medium / large have no ground truth → -1
  t.deepEqual(statsOf(r), [1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1]);
});

test('precision is interpolated at 101 recall points after making it monotone from the right', (t) => {
  // Ranked: TP (A), FP, TP (B). recall .5 .5 1, precision 1 .5 2/3 → envelope 1 2/3 2/3.
  // Thresholds 0..0.50 (51 of them) land on rank 1 → 1; 0.51..1 (50) on rank 3 → 2/3.
  // AP = (51 + 50·2/3) / 101 = 253/303 (a VOC-style area would give 0.8333).
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [20, 0, 10, 10])]);
  const r = evaluateCoco(gt, [det([0, 0, 10, 10], 0.9), det([50, 50, 10, 10], 0.8), det([20, 0, 10, 10], 0.7)]);
  t.true(close(r.stats.AP, 253 / 303), String(r.stats.AP));
  t.true(close(r.stats.AP50, 253 / 303));
  approx(t, r.stats.AR1, 0.5); // the top detection alone finds one of two boxes
  approx(t, r.stats.AR10, 1);
  // the raw precision array holds the interpolated curve: [T, R, K, A, M]
  const { R, K, A, M } = r.curves.shape;
  const at = (ri: number): number => r.curves.precision[((0 * R + ri) * K + 0) * A * M + 0 * M + 2]!;
  approx(t, at(50), 1);
  approx(t, at(51), 2 / 3);
});

test('a crowd region matches many detections, with the detection area as the union, and they are ignored', (t) => {
  // Two detections inside the crowd box (IoU = 400/400 = 1 with the detection's area as union)
  // rank above the true positive; both are ignored, so the TP has precision 1 → AP 1.
  // (Matched once only: the second would be a FP first → AP 0.5. Standard union: IoU 0.04 → AP 1/3.)
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [100, 100, 100, 100], { iscrowd: 1 })]);
  const r = evaluateCoco(gt, [
    det([110, 110, 20, 20], 0.95),
    det([150, 150, 20, 20], 0.93),
    det([0, 0, 10, 10], 0.9),
    det([300, 300, 10, 10], 0.6),
  ]);
  approx(t, r.stats.AP, 1);
  approx(t, r.stats.AR100, 1); // the crowd region is not a box to find
  approx(t, r.stats.AR1, 0); // with one detection per image only the ignored one is left
  t.is(r.counts.groundTruth, 1);
  t.is(r.counts.crowd, 1);
});

test('the "ignore" field has no effect (pycocotools overwrites it with iscrowd) unless honorIgnoreFlag is set', (t) => {
  const gt = dataset([ann(1, [0, 0, 10, 10], { ignore: 1 }), ann(2, [20, 0, 10, 10])]);
  const dets = [det([20, 0, 10, 10], 0.9)];
  // pycocotools: 2 boxes to find, 1 found at precision 1 → thresholds 0..0.5 → AP 51/101, AR 0.5
  const r = evaluateCoco(gt, dets);
  t.true(close(r.stats.AP, 51 / 101));
  approx(t, r.stats.AR100, 0.5);
  // honouring it: the marked box is ignored → 1 of 1 found
  const h = evaluateCoco(gt, dets, { honorIgnoreFlag: true });
  approx(t, h.stats.AP, 1);
  approx(t, h.stats.AR100, 1);
  t.true(h.params.honorIgnoreFlag);
});

test('area ranges use the annotation area for ground truth and w·h for unmatched detections', (t) => {
  // small (100), medium (2500), large (10000) boxes; an unmatched large detection ranks first.
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [100, 0, 50, 50]), ann(3, [300, 0, 100, 100])]);
  const r = evaluateCoco(gt, [det([500, 500, 200, 200], 0.95), det([0, 0, 10, 10], 0.9), det([100, 0, 50, 50], 0.8)]);
  // all: FP, TP, TP of 3 → precision envelope 2/3 up to recall 2/3 (thresholds 0..0.66: 67) → 67/101 · 2/3
  t.true(close(r.stats.AP, ((67 / 101) * 2) / 3));
  // small / medium: the large FP is out of range → ignored → 1
  approx(t, r.stats.APs, 1);
  approx(t, r.stats.APm, 1);
  // large: one box, never found
  approx(t, r.stats.APl, 0);
  approx(t, r.stats.ARl, 0);
  t.true(close(r.stats.AR100, 2 / 3));

  // A box whose *annotation* area says small is small, whatever its bbox says.
  const r2 = evaluateCoco(dataset([ann(1, [0, 0, 50, 50], { area: 500 })]), [det([0, 0, 50, 50], 0.9)]);
  approx(t, r2.stats.APs, 1);
  t.is(r2.stats.APm, -1);
});

test('area range bounds are inclusive: an area of exactly 32² is small and medium', (t) => {
  const r = evaluateCoco(dataset([ann(1, [0, 0, 32, 32])]), [det([0, 0, 32, 32], 0.9)]);
  t.deepEqual(statsOf(r).slice(3, 6), [1, 1, -1]);
});

test('maxDets counts detections per image: AR1 / AR10 / AR100, and the 101st is never seen', (t) => {
  // 11 misses rank above the hit: AR1 = AR10 = 0, AR100 = 1; AP = precision 1/12 everywhere.
  const gt = dataset([ann(1, [0, 0, 10, 10])]);
  const dets = Array.from({ length: 11 }, (_, i) => det([50 + 20 * i, 50, 10, 10], 0.9 - 0.01 * i));
  const r = evaluateCoco(gt, [...dets, det([0, 0, 10, 10], 0.1)]);
  t.deepEqual(statsOf(r).slice(6, 9), [0, 0, 1]);
  t.true(close(r.stats.AP, 1 / 12));
  // 100 misses above the hit: the hit is cut off entirely
  const many = Array.from({ length: 100 }, (_, i) => det([50 + 20 * i, 50, 10, 10], 0.9 - 0.001 * i));
  const r100 = evaluateCoco(gt, [...many, det([0, 0, 10, 10], 0.01)]);
  approx(t, r100.stats.AP, 0);
  approx(t, r100.stats.AR100, 0);
  t.is(r100.counts.detections, 100);
});

test('matching is greedy in score order: a better-scored, worse-placed detection takes the box', (t) => {
  // A (0.9) has IoU 0.62, B (0.8) IoU 1. At IoU .50/.55/.60 A takes the box, B is a FP after it → AP 1.
  // From .65 on A misses (FP first) and B hits → precision 1/2. AP = (3·1 + 7·0.5)/10 = 0.65.
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, 10, 6.2], 0.9), det([0, 0, 10, 10], 0.8)]);
  t.true(close(r.stats.AP, 0.65));
  approx(t, r.stats.AP50, 1);
  approx(t, r.stats.AP75, 0.5);
  t.true(close(r.stats.AR1, 0.3)); // A alone: found at 3 of 10 thresholds
});

test('categories without ground truth are skipped in the means (per class: null)', (t) => {
  const gt = dataset([ann(1, [0, 0, 10, 10])], { categories: [1, 2] });
  const r = evaluateCoco(gt, [det([0, 0, 10, 10], 0.9), det([0, 0, 10, 10], 0.8, { category_id: 2 })]);
  approx(t, r.stats.AP, 1); // class 2 (only false positives, no ground truth) is -1 and left out
  t.is(r.perClass[1]!.AP, null);
  approx(t, r.perClass[1]!.numDetections, 1);
  t.is(r.perClassAP50[1]!.AP50, null);
  approx(t, r.mAP50, 1);
});

test('equal scores across images are ordered by image id, not by file order', (t) => {
  // Both detections score 0.5; the FP is on image 1, the TP on image 2 (listed first in the file).
  // pycocotools concatenates images by ascending id and sorts stably: FP then TP → precision 1/2
  // up to recall 1/2 → AP = 0.5 · 51/101.
  const gt = dataset([ann(1, [0, 0, 10, 10], { image_id: 1 }), ann(2, [0, 0, 10, 10], { image_id: 2 })], { images: [2, 1] });
  const r = evaluateCoco(gt, [det([0, 0, 10, 10], 0.5, { image_id: 2 }), det([50, 50, 10, 10], 0.5, { image_id: 1 })]);
  t.true(close(r.stats.AP, (0.5 * 51) / 101));
});

test('equal scores within an image keep file order when matching', (t) => {
  // X (IoU 0.72) is listed before Y (IoU 0.92), same score: X matches first.
  // IoU .50–.70 (5): TP, FP → 1; .75–.90 (4): FP, TP → 0.5; .95: none → 0. AP = (5 + 2)/10 = 0.7.
  // (Y first would give 0.9.)
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, 10, 7.2], 0.5), det([0, 0, 10, 9.2], 0.5)]);
  t.true(close(r.stats.AP, 0.7));
  t.true(close(r.stats.AR10, 0.9));
});

test('a ground-truth id of 0 makes its match count as a false positive (pycocotools quirk, kept)', (t) => {
  const r = evaluateCoco(dataset([ann(0, [0, 0, 10, 10])]), [det([0, 0, 10, 10], 0.9)]);
  approx(t, r.stats.AP, 0);
  approx(t, r.stats.AR100, 0);
});

test('a detection with a negative width still takes a place among the top detections, as in pycocotools', (t) => {
  // The negative box (score 0.9) matches nothing and is ignored (area < 0 is out of every range),
  // but it uses up the single slot of maxDets = 1: AR1 = 0.
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, -10, 10], 0.9), det([0, 0, 10, 10], 0.8)]);
  approx(t, r.stats.AP, 1);
  approx(t, r.stats.AR1, 0);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0]!, /1 detection has a bbox with negative width or height \(detections\[0\]\)/);
});

test('restricting to image ids evaluates only those images', (t) => {
  // Image 1: a hit. Image 2: a miss ranked higher and an unfound box.
  const gt = dataset([ann(1, [0, 0, 10, 10], { image_id: 1 }), ann(2, [0, 0, 10, 10], { image_id: 2 })], { images: [1, 2] });
  const dets = [det([0, 0, 10, 10], 0.9, { image_id: 1 }), det([50, 50, 10, 10], 0.95, { image_id: 2 })];
  const all = evaluateCoco(gt, dets);
  t.true(close(all.stats.AP, (0.5 * 51) / 101));
  const sub = evaluateCoco(gt, dets, { imageIds: [1] });
  approx(t, sub.stats.AP, 1);
  t.deepEqual(sub.imageIds, [1]);
  t.is(sub.counts.images, 1);
  t.is(sub.counts.detections, 1);
  // other accepted forms of the list
  approx(t, evaluateCoco(gt, dets, { imageIds: { image_ids: [1] } }).stats.AP, 1);
  approx(t, evaluateCoco(gt, dets, { imageIds: { images: [{ id: 1 }] } }).stats.AP, 1);
});

test('per-class table and OPIXray-style AP50 per class', (t) => {
  // class 1: perfect. class 2: a FP then the TP of its one box → precision 1/2 at recall 1,
  // so 0.5 at every recall threshold and every IoU → AP = AP50 = 0.5.
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [100, 100, 50, 50], { category_id: 2 })], { categories: [2, 1] });
  const r = evaluateCoco(gt, [
    det([0, 0, 10, 10], 0.9),
    det([300, 300, 50, 50], 0.9, { category_id: 2 }),
    det([100, 100, 50, 50], 0.8, { category_id: 2 }),
  ]);
  t.deepEqual(r.perClass.map((c) => c.id), [1, 2]); // sorted by id
  t.deepEqual(r.perClass.map((c) => c.name), ['class1', 'class2']);
  t.deepEqual(r.perClass.map((c) => [c.numGroundTruth, c.numDetections]), [[1, 1], [1, 2]]);
  approx(t, r.perClass[0]!.AP, 1);
  approx(t, r.perClass[1]!.AP, 0.5);
  approx(t, r.perClass[0]!.APs, 1); // area 100
  t.is(r.perClass[0]!.APm, null);
  approx(t, r.perClass[1]!.APm, 0.5); // area 2500
  t.deepEqual(r.perClassAP50.map((c) => [c.id, c.name]), [[1, 'class1'], [2, 'class2']]);
  approx(t, r.perClassAP50[0]!.AP50, 1);
  approx(t, r.perClassAP50[1]!.AP50, 0.5);
  approx(t, r.mAP50, 0.75);
  approx(t, r.stats.AP50, 0.75);
});
