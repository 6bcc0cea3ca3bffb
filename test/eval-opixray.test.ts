// OPIXray-style per-class AP50: the PASCAL VOC evaluation of OPIXray's
// benchmark code, hand-worked, and how it differs from COCO's AP50.
import test from 'ava';
import { evaluateCoco } from '../lib/eval/index.js';
import { voc07AP, vocAreaAP } from '../lib/eval/voc.js';
import { ann, dataset, det } from './fixtures/eval/build.js';

const close = (a: number | null, b: number): boolean => a !== null && Math.abs(a - b) < 1e-12;

test('AP is the area under the precision envelope (or the VOC2007 11-point mean)', (t) => {
  // Ranked TP, FP, TP of 2 boxes: recall .5 .5 1, precision 1 .5 2/3.
  // Envelope 1, 2/3, 2/3 → area = .5·1 + .5·2/3 = 5/6 (COCO's 101 points give 253/303).
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [20, 0, 10, 10])]);
  const dets = [det([0, 0, 10, 10], 0.9), det([50, 50, 10, 10], 0.8), det([20, 0, 10, 10], 0.7)];
  const r = evaluateCoco(gt, dets);
  t.true(close(r.perClassAP50[0]!.AP50, 5 / 6), String(r.perClassAP50[0]!.AP50));
  t.true(close(r.perClass[0]!.AP50, 253 / 303));
  t.true(close(r.mAP50, 5 / 6));
  t.deepEqual([r.perClassAP50[0]!.numGroundTruth, r.perClassAP50[0]!.numDetections], [2, 3]);
  // 11-point: recall ≥ 0 … 0.5 (6 points) → best precision 1; ≥ 0.6 … 1 (5 points) → 2/3. (6 + 10/3)/11
  const r07 = evaluateCoco(gt, dets, { opixrayMethod: '11point' });
  t.true(close(r07.perClassAP50[0]!.AP50, (6 + 10 / 3) / 11));
  t.is(r07.params.opixrayMethod, '11point');
});

test('the helpers follow the VOC code on plain curves', (t) => {
  t.is(vocAreaAP(Float64Array.from([0.5, 1]), Float64Array.from([1, 1])), 1);
  t.is(vocAreaAP(Float64Array.from([0, 0.5]), Float64Array.from([0, 0.5])), 0.25);
  t.true(close(voc07AP(Float64Array.from([0.5, 1]), Float64Array.from([1, 0.5])), (6 + 5 * 0.5) / 11));
  t.is(voc07AP(new Float64Array(0), new Float64Array(0)), 0);
});

test('IoU must exceed 0.5 (COCO accepts exactly 0.5)', (t) => {
  // [0,0,10,5] on [0,0,10,10]: IoU = 50/100 = 0.5 exactly.
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, 10, 5], 0.9)]);
  t.is(r.perClassAP50[0]!.AP50, 0);
  t.true(close(r.perClass[0]!.AP50, 1));
});

test('a box already taken is not passed on to the next best (COCO passes it on)', (t) => {
  // d1 takes A. d2 overlaps A most (0.9) and B less (0.6): VOC calls it a FP, COCO matches it to B.
  const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [4, 0, 10, 10])]);
  const d1 = det([0, 0, 10, 10], 0.9);
  const d2 = det([0.5, 0, 10, 10], 0.8); // IoU with A = 95/105 ≈ 0.905, with B = 65/135 ≈ 0.48 → <0.5
  const r = evaluateCoco(gt, [d1, d2]);
  // VOC: TP, FP of 2 → recall .5, precision 1 → area .5
  t.is(r.perClassAP50[0]!.AP50, 0.5);
  // COCO at 0.5: d2's IoU with B is below 0.5 too, so both agree here; move B closer:
  const gt2 = dataset([ann(1, [0, 0, 10, 10]), ann(2, [2, 0, 10, 10])]);
  const r2 = evaluateCoco(gt2, [d1, det([0.5, 0, 10, 10], 0.8)]); // IoU A 0.905, B 85/115 ≈ 0.739
  t.is(r2.perClassAP50[0]!.AP50, 0.5); // VOC: d2 → A (taken) → FP
  t.true(close(r2.perClass[0]!.AP50, 1)); // COCO: d2 → B → TP
});

test('every detection counts (no 100-per-image cut) and crowd regions act as "difficult"', (t) => {
  // 100 misses above the hit: COCO never sees the hit; VOC does (precision 1/101 at recall 1).
  const gt = dataset([ann(1, [0, 0, 10, 10])]);
  const misses = Array.from({ length: 100 }, (_, i) => det([50 + 20 * i, 50, 10, 10], 0.9 - 0.001 * i));
  const r = evaluateCoco(gt, [...misses, det([0, 0, 10, 10], 0.01)]);
  t.is(r.stats.AP50, 0);
  t.true(close(r.perClassAP50[0]!.AP50, 1 / 101));
  t.is(r.perClassAP50[0]!.numDetections, 101);
  // a detection on a crowd region is neither TP nor FP; the crowd box is not counted
  const withCrowd = dataset([ann(1, [0, 0, 10, 10]), ann(2, [100, 100, 50, 50], { iscrowd: 1 })]);
  const rc = evaluateCoco(withCrowd, [det([100, 100, 50, 50], 0.95), det([0, 0, 10, 10], 0.9)]);
  t.is(rc.perClassAP50[0]!.AP50, 1);
  t.is(rc.perClassAP50[0]!.numGroundTruth, 1);
});

test('classes without ground truth get null and stay out of the mean; subsets apply', (t) => {
  const gt = dataset([ann(1, [0, 0, 10, 10], { image_id: 1 }), ann(2, [0, 0, 10, 10], { image_id: 2 })], { images: [1, 2], categories: [1, 2] });
  const dets = [det([0, 0, 10, 10], 0.9, { image_id: 1 }), det([50, 50, 10, 10], 0.95, { image_id: 2 }), det([0, 0, 10, 10], 0.5, { category_id: 2 })];
  const r = evaluateCoco(gt, dets);
  t.is(r.perClassAP50[1]!.AP50, null);
  t.is(r.perClassAP50[0]!.AP50, 0.25); // FP then TP of 2 boxes: recall .5 at precision .5
  t.is(r.mAP50, 0.25);
  const sub = evaluateCoco(gt, dets, { imageIds: [1] });
  t.is(sub.perClassAP50[0]!.AP50, 1);
});
