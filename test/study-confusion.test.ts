// The study's rules on hand-built cases: the class confusion matrix (who wins
// each object), the LA on/off detection comparison, the log histogram behind
// the |w1 − w2| statistics, and the confusion heat-map's colours.
import test from 'ava';
import sharp from 'sharp';
import type { CocoDetection, CocoGroundTruth } from '../lib/eval/index.js';
import { addConfusion, confusionMatrix, summarizeConfusion, topConfusions } from '../lib/study/confusion.js';
import { compareDetections } from '../lib/study/compare_detections.js';
import { accumulateLaWeights, LogHistogram } from '../lib/study/la_weights.js';
import { heatColor, renderHeatmap, renderHeatmapSvg } from '../lib/report/index.js';
import { LaxrayError } from '../lib/errors.js';
import type { TensorData } from '../lib/tensor.js';

const box = (x: number, y: number): [number, number, number, number] => [x, y, 10, 10];

// Image 1 holds four objects and a crowd region:
//   A (class 1): a class-1 detection 0.6 and a class-2 one 0.7 on it    → 1 confused as 2
//   B (class 2): class 2 at 0.5 and class 1 at 0.5 (a tie)              → correct
//   C (class 3): only a class-3 detection at IoU 0.25                   → missed
//   D (class 1): only a class-3 detection at IoU 90/110 = 0.82          → 1 confused as 3
const gt: CocoGroundTruth = {
  images: [{ id: 1, width: 100, height: 100 }],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: box(0, 0), area: 100, iscrowd: 0 },
    { id: 2, image_id: 1, category_id: 2, bbox: box(20, 0), area: 100, iscrowd: 0 },
    { id: 3, image_id: 1, category_id: 3, bbox: box(40, 0), area: 100, iscrowd: 0 },
    { id: 4, image_id: 1, category_id: 1, bbox: box(0, 30), area: 100, iscrowd: 0 },
    { id: 5, image_id: 1, category_id: 2, bbox: box(60, 60), area: 100, iscrowd: 1 },
  ],
  categories: [
    { id: 3, name: 'tin' },
    { id: 1, name: 'knife' },
    { id: 2, name: 'dagger' },
  ],
};
const dets: CocoDetection[] = [
  { image_id: 1, category_id: 1, bbox: box(0, 0), score: 0.6 },
  { image_id: 1, category_id: 2, bbox: box(1, 0), score: 0.7 },
  { image_id: 1, category_id: 2, bbox: box(20, 0), score: 0.5 },
  { image_id: 1, category_id: 1, bbox: box(20, 0), score: 0.5 },
  { image_id: 1, category_id: 3, bbox: box(46, 0), score: 0.9 },
  { image_id: 1, category_id: 3, bbox: box(0, 31), score: 0.3 },
];

test('confusion matrix: each object goes to the best-scoring class among detections at IoU ≥ 0.5', (t) => {
  const m = confusionMatrix(gt, dets);
  t.deepEqual(m.classes, ['knife', 'dagger', 'tin'], 'categories by id');
  // columns: knife, dagger, tin, missed
  t.deepEqual(m.counts, [
    [0, 1, 1, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 1],
  ]);
  const groups = new Map([
    ['knife', 'cutter'],
    ['dagger', 'cutter'],
    ['tin', 'liquid container'],
  ]);
  const s = summarizeConfusion(m, groups);
  t.like(s, { objects: 4, correct: 1, missed: 1, confused: 2, confusedWithinGroup: 1 });
  t.is(s.confusedRate, 0.5);
  t.is(s.confusedWithinGroupRate, 0.25);
  t.deepEqual(topConfusions(m), [
    { truth: 'knife', predicted: 'dagger', count: 1 },
    { truth: 'knife', predicted: 'tin', count: 1 },
  ]);
  const sum = addConfusion([m, m]);
  t.deepEqual(sum.counts[0], [0, 2, 2, 0]);
});

test('confusion matrix: a subset of images, a stricter IoU, and bad ids', (t) => {
  t.deepEqual(confusionMatrix(gt, dets, { imageIds: [2] }).counts.flat().reduce((a, b) => a + b, 0), 0);
  // at IoU ≥ 0.9 the class-2 box on A (IoU 90/110) no longer counts: A is correct; D is missed
  const strict = confusionMatrix(gt, dets, { iouThreshold: 0.9 });
  t.deepEqual(strict.counts[0], [1, 0, 0, 1]);
  t.throws(() => confusionMatrix(gt, [{ image_id: 1, category_id: 9, bbox: box(0, 0), score: 1 }]), { instanceOf: LaxrayError, message: /category_id 9/ });
});

test('compareDetections: unchanged = same class and box IoU ≥ 0.99; score changes measured on those', (t) => {
  const on: CocoDetection[] = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 100, 100], score: 0.5 },
    { image_id: 1, category_id: 2, bbox: [0, 0, 100, 100], score: 0.4 },
    { image_id: 2, category_id: 1, bbox: [0, 0, 10, 10], score: 0.3 },
  ];
  const off: CocoDetection[] = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 100, 100.5], score: 0.52 }, // IoU 100/100.5 ≥ 0.99: unchanged
    { image_id: 1, category_id: 2, bbox: [0, 0, 100, 98], score: 0.4 }, // IoU 0.98: changed
    { image_id: 2, category_id: 1, bbox: [0, 0, 10, 10], score: 0.3 }, // identical
  ];
  const c = compareDetections(on, off, [1, 2, 3]);
  t.is(c.detectionsOn, 3);
  t.is(c.detectionsOff, 3);
  t.is(c.changed, 2, 'the class-2 pair, counted once on each side');
  t.is(c.changedFraction, 2 / 6);
  t.is(c.imagesDiffering, 1);
  t.is(c.images, 3);
  t.true(Math.abs(c.maxScoreChange - 0.02) < 1e-12);
  t.true(Math.abs(c.meanScoreChange - 0.01) < 1e-12);
  const same = compareDetections(on, on, [1, 2]);
  t.like(same, { changed: 0, imagesDiffering: 0, maxScoreChange: 0 });
});

test('LogHistogram: exact count, mean and max; percentiles within one bin', (t) => {
  const h = new LogHistogram();
  for (let i = 1; i <= 100; i++) h.add(i / 1e6);
  h.add(0);
  t.is(h.count, 101);
  t.true(Math.abs(h.mean - 5050e-6 / 101) < 1e-15);
  t.is(h.max, 100e-6);
  // rank ceil(0.99 · 101) = 100: the 100th smallest value is 99e-6
  t.true(Math.abs(h.percentile(99) / 99e-6 - 1) < 0.0012, `p99 ${h.percentile(99)}`);
  t.is(h.percentile(0), 0, 'the smallest value is the zero');
  t.is(h.percentile(100), 100e-6, 'capped at the exact maximum');
  const other = new LogHistogram();
  other.add(1);
  h.merge(other);
  t.is(h.count, 102);
  t.is(h.max, 1);
  t.throws(() => h.add(-1), { instanceOf: LaxrayError });
});

test('accumulateLaWeights: |w1 − w2| over each image\'s own area, padding left out', (t) => {
  // one image, 2 channels, level 2 × 2 of a 64 × 64 input (stride 32); the image is 64 wide, 32 high: row 0 only
  const w1 = Float32Array.from([0.5, 0.6, 0.9, 0.9, 0.5, 0.5, 0.1, 0.1]);
  const w2 = Float32Array.from([0.5, 0.5, 0.1, 0.1, 0.25, 0.5, 0.1, 0.1]);
  const inspection: Record<string, TensorData> = {
    'la.p3.w1': { data: w1, shape: [1, 2, 2, 2] },
    'la.p3.w2': { data: w2, shape: [1, 2, 2, 2] },
    'la.p3.x_new': { data: new Float32Array(8), shape: [1, 2, 2, 2] },
  };
  const hists = new Map<string, LogHistogram>();
  t.is(accumulateLaWeights(hists, inspection, [{ resizedWidth: 64, resizedHeight: 32 }], 64), 'cls');
  const h = hists.get('p3')!;
  t.is(h.count, 4, '2 channels × 1 row × 2 columns');
  // row 0: channel 0 → |0|, |0.1|; channel 1 → |0.25|, |0|
  t.true(Math.abs(h.max - 0.25) < 1e-7);
  t.true(Math.abs(h.mean - 0.35 / 4) < 1e-7);
  const reg: Record<string, TensorData> = { 'la.p4.w': { data: Float32Array.from([0.5, 0.75, 0.5, 0.5]), shape: [1, 1, 2, 2] } };
  const regHists = new Map<string, LogHistogram>();
  t.is(accumulateLaWeights(regHists, reg, [{ resizedWidth: 64, resizedHeight: 64 }], 64), 'reg');
  t.is(regHists.get('p4')!.max, 0.25);
  t.is(accumulateLaWeights(new Map(), { 'head.p3.cls': { data: new Float32Array(1), shape: [1, 1, 1, 1] } }, [], 64), null);
});

test('heat-map: white for 0, dark blue for 1, each cell at its row and column', async (t) => {
  t.is(heatColor(0), '#ffffff');
  t.is(heatColor(1), '#08306b');
  t.is(heatColor(2), '#08306b', 'clamped');
  t.is(heatColor(Number.NaN), '#eeeeee');
  const spec = { rowLabels: ['a', 'b'], columnLabels: ['a', 'b', 'missed'], values: [[1, 0, 0.5], [0, 1, Number.NaN]], cellSize: 40 };
  const svg = renderHeatmapSvg(spec);
  const cells = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="40" height="40" fill="(#[0-9a-f]{6})"/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), fill: m[3] }));
  t.is(cells.length, 6);
  t.deepEqual(cells.map((c) => c.fill), ['#08306b', '#ffffff', heatColor(0.5), '#ffffff', '#08306b', '#eeeeee']);
  t.is(cells[1]!.x - cells[0]!.x, 40, 'columns left to right');
  t.is(cells[3]!.y - cells[0]!.y, 40, 'rows top to bottom');
  t.regex(svg, />100</, 'cell text: the value in percent');
  const png = await renderHeatmap(spec);
  const meta = await sharp(png).metadata();
  t.is(meta.format, 'png');
  t.throws(() => renderHeatmapSvg({ rowLabels: ['a'], columnLabels: ['a', 'b'], values: [[1]] }), { instanceOf: LaxrayError });
});
