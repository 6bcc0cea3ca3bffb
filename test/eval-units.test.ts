// The small pieces under the evaluator, each against an independent answer.
import test from 'ava';
import { cocoBoxIou } from '../lib/eval/iou.js';
import { IOU_THRESHOLDS, RECALL_THRESHOLDS, linspace } from '../lib/eval/params.js';
import { argsortDescending } from '../lib/eval/sort.js';
import { numpyMean } from '../lib/eval/summarize.js';
import { formatCocoSummary } from '../lib/eval/format_report.js';
import { evaluateCoco } from '../lib/eval/index.js';
import { ann, dataset, det } from './fixtures/eval/build.js';
import { lcg } from './helpers/numbers.js';

const iou = (d: number[], g: number[], crowd = false): number => cocoBoxIou(Float64Array.from(d), 0, Float64Array.from(g), 0, crowd);

test('box IoU: overlap, containment, touching, disjoint, crowd union = detection area', (t) => {
  t.is(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  t.is(iou([0, 0, 10, 10], [5, 0, 10, 10]), 50 / 150);
  t.is(iou([2, 2, 4, 4], [0, 0, 10, 10]), 16 / 100);
  t.is(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0); // touching edges: no overlap
  t.is(iou([0, 0, 10, 10], [50, 50, 10, 10]), 0);
  t.is(iou([2, 2, 4, 4], [0, 0, 10, 10], true), 1); // inside a crowd region
  t.is(iou([5, 5, 10, 10], [0, 0, 10, 10], true), 25 / 100);
  t.is(iou([0, 0, 0, 10], [0, 0, 10, 10]), 0); // zero width
  t.is(iou([0, 0, -5, 10], [-10, 0, 20, 10]), 0); // negative width overlaps nothing
});

test('thresholds are built as np.linspace builds them', (t) => {
  t.is(IOU_THRESHOLDS.length, 10);
  t.is(RECALL_THRESHOLDS.length, 101);
  t.is(IOU_THRESHOLDS[0], 0.5);
  t.is(IOU_THRESHOLDS[5], 0.75); // so AP75 finds its threshold by equality, as in pycocotools
  t.is(IOU_THRESHOLDS[8], 0.8999999999999999); // 8·step + 0.5, not 0.9
  t.is(IOU_THRESHOLDS[9], 0.95); // the end point is set exactly
  t.is(RECALL_THRESHOLDS[50], 0.5);
  t.is(RECALL_THRESHOLDS[7], 0.07);
  t.deepEqual(Array.from(linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  t.deepEqual(Array.from(linspace(3, 3, 1)), [3]);
});

test('radix argsort = a stable descending sort, ties (and ±0) in input order', (t) => {
  const rand = lcg(7);
  for (const n of [0, 1, 2, 17, 1000, 20000]) {
    const scores = new Float64Array(n + 3);
    for (let i = 0; i < n + 3; i++) {
      const r = rand();
      scores[i] = r < 0.3 ? Math.round(rand() * 10) / 10 : r < 0.4 ? -rand() * 1e6 : r < 0.45 ? (rand() < 0.5 ? 0 : -0) : r < 0.5 ? rand() * 1e-300 : rand();
    }
    const base = 3; // sorts score[base .. base + n)
    const out = new Int32Array(n);
    argsortDescending(scores, base, n, out);
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[base + b]! - scores[base + a]! || a - b);
    t.deepEqual(Array.from(out), expected, `n = ${n}`);
  }
});

test('numpyMean sums pairwise like numpy (differs from a left-to-right sum)', (t) => {
  // 0.1 repeated: numpy.mean([0.1] * 10) == 0.1 exactly; a naive loop gives 0.09999999999999999.
  const v = new Float64Array(10).fill(0.1);
  t.is(numpyMean(v, 10), 0.1);
  let naive = 0;
  for (const x of v) naive += x;
  t.is(naive / 10, 0.09999999999999999);
  // numpy: np.mean(np.arange(1, 1001) / 7) = 71.5
  const w = Float64Array.from({ length: 1000 }, (_, i) => (i + 1) / 7);
  t.is(numpyMean(w, 1000), 71.5);
  t.true(Number.isNaN(numpyMean(v, 0)));
});

test('the printed summary has pycocotools\' layout', (t) => {
  const r = evaluateCoco(dataset([ann(1, [0, 0, 10, 10])]), [det([0, 0, 10, 10], 0.9)]);
  const lines = formatCocoSummary(r).split('\n');
  t.is(lines.length, 12);
  t.is(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000');
  t.is(lines[1], ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000');
  t.is(lines[4], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000');
  t.is(lines[6], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 1.000');
});
