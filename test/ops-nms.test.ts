// laxray/ops NMS with torchvision's semantics: kept indices by decreasing score,
// suppression only when IoU > threshold (strictly), ties by index, and
// class-wise NMS that never lets classes suppress each other.
import test from 'ava';
import { LaxrayError } from '../lib/errors.js';
import { batchedNms, nms } from '../lib/ops.js';
import { boxes, lcg } from './helpers/numbers.js';

const list = (a: Int32Array): number[] => Array.from(a);

test('a box overlapping a better one above the threshold is suppressed; a far box is kept', async (t) => {
  // [0,0,10,10] vs [1,1,11,11]: inter 9·9 = 81, union 200 − 81 = 119 -> IoU 0.681 > 0.5.
  const b = boxes([0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]);
  t.deepEqual(list(await nms(b, new Float32Array([0.9, 0.8, 0.7]), 0.5)), [0, 2]);
  // The same overlap survives a threshold of 0.7 (0.681 < 0.7).
  t.deepEqual(list(await nms(b, new Float32Array([0.9, 0.8, 0.7]), 0.7)), [0, 1, 2]);
});

test('kept indices come in decreasing score order, not input order', async (t) => {
  const b = boxes([0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]);
  t.deepEqual(list(await nms(b, new Float32Array([0.1, 0.9, 0.5]), 0.5)), [1, 2, 0]);
});

test('IoU equal to the threshold does not suppress (strictly greater, as torchvision)', async (t) => {
  // [0,0,3,1] vs [1,0,4,1]: inter 2, union 3 + 3 − 2 = 4 -> IoU exactly 0.5.
  const b = boxes([0, 0, 3, 1], [1, 0, 4, 1]);
  const s = new Float32Array([0.9, 0.8]);
  t.deepEqual(list(await nms(b, s, 0.5)), [0, 1]);
  t.deepEqual(list(await nms(b, s, 0.49)), [0]);
});

test('equal scores: the lower index wins and comes first', async (t) => {
  // Two identical boxes with the same score: box 0 is kept, box 1 suppressed (IoU 1).
  t.deepEqual(list(await nms(boxes([0, 0, 1, 1], [0, 0, 1, 1]), new Float32Array([0.5, 0.5]), 0.5)), [0]);
  // Disjoint boxes with equal scores keep index order.
  const b = boxes([0, 0, 1, 1], [5, 5, 6, 6], [2, 2, 3, 3]);
  t.deepEqual(list(await nms(b, new Float32Array([0.5, 0.5, 0.5]), 0.5)), [0, 1, 2]);
});

test('suppression is greedy: a suppressed box suppresses nothing', async (t) => {
  // A [0,0,10,10] .9, B [5,0,15,10] .8, C [10,0,20,10] .7.
  // A·B: inter 50, union 150 -> 1/3 > 0.3: B goes. B·C would be 1/3 too, but B is gone; A·C = 0 -> C stays.
  const b = boxes([0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10]);
  t.deepEqual(list(await nms(b, new Float32Array([0.9, 0.8, 0.7]), 0.3)), [0, 2]);
});

test('no boxes: an empty result', async (t) => {
  const kept = await nms(new Float32Array(0), new Float32Array(0), 0.5);
  t.true(kept instanceof Int32Array);
  t.is(kept.length, 0);
});

test('batchedNms keeps overlapping boxes of different classes and suppresses within a class', async (t) => {
  // 0: [0,0,10,10] .9 class 0; 1: [1,1,11,11] .8 class 1; 2: [0,0,10,10] .85 class 1; 3: [1,1,11,11] .7 class 0.
  // Class 0: 0 keeps, 3 (IoU 0.681 with 0) goes. Class 1: 2 (.85) keeps, 1 (IoU 0.681 with 2) goes.
  // Box 0 and box 2 are identical but of different classes: both stay. Merged by score: 0 (.9), 2 (.85).
  const b = boxes([0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [1, 1, 11, 11]);
  const s = new Float32Array([0.9, 0.8, 0.85, 0.7]);
  t.deepEqual(list(await batchedNms(b, s, new Int32Array([0, 1, 1, 0]), 0.5)), [0, 2]);
  // All in different classes: nothing is suppressed; order by score.
  t.deepEqual(list(await batchedNms(b, s, new Int32Array([0, 1, 2, 3]), 0.5)), [0, 2, 1, 3]);
  // All in one class: as plain nms.
  t.deepEqual(list(await batchedNms(b, s, new Int32Array([4, 4, 4, 4]), 0.5)), list(await nms(b, s, 0.5)));
});

test('bad NMS inputs are rejected with the argument named; the process carries on', async (t) => {
  const b = boxes([0, 0, 1, 1], [0, 0, 2, 2]);
  await t.throwsAsync(nms(b, new Float32Array([1]), 0.5), { instanceOf: LaxrayError, message: /nms: scores must hold one score per box \(2\), got 1/ });
  await t.throwsAsync(nms(b, new Float32Array([1, Number.NaN]), 0.5), { instanceOf: LaxrayError, message: /nms: scores: score 1 is not finite/ });
  await t.throwsAsync(nms(boxes([0, 0, 1, 1], [3, 3, 2, 4]), new Float32Array([1, 1]), 0.5), { message: /nms: boxes: box 1 \[3, 3, 2, 4\] has x2 < x1/ });
  await t.throwsAsync(nms(b, new Float32Array([1, 1]), Number.NaN), { code: 'INVALID_ARGUMENT', message: /iouThreshold must be a finite number/ });
  await t.throwsAsync(batchedNms(b, new Float32Array([1, 1]), new Int32Array([0]), 0.5), { message: /classIds must hold one id per box \(2\), got 1/ });
  await t.throwsAsync(batchedNms(b, new Float32Array([1, 1]), new Float32Array([0, 1]) as unknown as Int32Array, 0.5), {
    message: /batchedNms: classIds must be an Int32Array/,
  });
  t.deepEqual(list(await nms(b, new Float32Array([1, 2]), 0.5)), [1, 0]);
});

test('random boxes: batchedNms equals greedy suppress-the-rest NMS per class, merged by score', async (t) => {
  const rand = lcg(7);
  const iou = (b: Float32Array, i: number, j: number): number => {
    const w = Math.max(0, Math.min(b[4 * i + 2]!, b[4 * j + 2]!) - Math.max(b[4 * i]!, b[4 * j]!));
    const h = Math.max(0, Math.min(b[4 * i + 3]!, b[4 * j + 3]!) - Math.max(b[4 * i + 1]!, b[4 * j + 1]!));
    const inter = w * h;
    const union = (b[4 * i + 2]! - b[4 * i]!) * (b[4 * i + 3]! - b[4 * i + 1]!) + (b[4 * j + 2]! - b[4 * j]!) * (b[4 * j + 3]! - b[4 * j + 1]!) - inter;
    return union > 0 ? inter / union : 0;
  };
  for (let round = 0; round < 5; round++) {
    const n = 300;
    const b = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const x = rand() * 100, y = rand() * 100;
      b.set([x, y, x + 5 + rand() * 30, y + 5 + rand() * 30], 4 * i);
    }
    const s = Float32Array.from({ length: n }, () => Math.round(rand() * 50) / 50); // many equal scores
    const c = Int32Array.from({ length: n }, () => Math.floor(rand() * 3));
    const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => s[q]! - s[p]! || p - q);
    const suppressed = new Array<boolean>(n).fill(false);
    const expected: number[] = [];
    for (let oi = 0; oi < n; oi++) {
      const i = order[oi]!;
      if (suppressed[i]) continue;
      expected.push(i);
      for (let oj = oi + 1; oj < n; oj++) {
        const j = order[oj]!;
        if (c[j] === c[i] && iou(b, i, j) > 0.5) suppressed[j] = true;
      }
    }
    t.deepEqual(Array.from(await batchedNms(b, s, c, 0.5)), expected, `round ${round}`);
  }
});
