// laxray/ops box geometry: IoU and generalized IoU against hand-worked numbers,
// the N×M layout, and bad boxes rejected with messages naming the argument and row.
import test from 'ava';
import { LaxrayError } from '../lib/errors.js';
import { boxIou, generalizedBoxIou } from '../lib/ops.js';
import { allClose, boxes } from './helpers/numbers.js';

test('IoU and GIoU of overlapping, disjoint, nested and identical boxes', async (t) => {
  const a = boxes([0, 0, 2, 2]);
  // [0,0,2,2] vs [1,1,3,3]: inter [1,1,2,2] = 1; union 4 + 4 − 1 = 7 -> IoU 1/7.
  //   hull [0,0,3,3] = 9 -> GIoU = 1/7 − (9 − 7)/9 = 1/7 − 2/9 = −5/63.
  // [0,0,2,2] vs [3,0,4,2]: inter 0, union 4 + 2 = 6 -> IoU 0; hull [0,0,4,2] = 8 -> GIoU 0 − (8 − 6)/8 = −0.25.
  // [0,0,2,2] vs [3,0,5,1]: inter 0, union 4 + 2 = 6; hull [0,0,5,2] = 10 -> GIoU −4/10 = −0.4.
  // [0,0,2,2] vs [0.5,0.5,1.5,1.5]: nested, inter 1, union 4 -> 0.25; hull = a -> GIoU 0.25.
  // [0,0,2,2] vs itself: 1 and 1.
  const b = boxes([1, 1, 3, 3], [3, 0, 4, 2], [3, 0, 5, 1], [0.5, 0.5, 1.5, 1.5], [0, 0, 2, 2]);
  allClose(t, await boxIou(a, b), [1 / 7, 0, 0, 0.25, 1], 1e-6);
  allClose(t, await generalizedBoxIou(a, b), [-5 / 63, -0.25, -0.4, 0.25, 1], 1e-6);
});

test('boxIou is N×M row-major: row i holds box a[i] against every b', async (t) => {
  // a0 = [0,0,10,10] (area 100), a1 = [5,0,15,10] (area 100); b0 = [0,0,10,10], b1 = [0,0,5,10] (50), b2 = [20,20,30,30].
  // a0·b0 = 1; a0·b1 = 50/100 = 0.5; a0·b2 = 0
  // a1·b0: inter [5,0,10,10] = 50, union 150 -> 1/3; a1·b1: inter 0 (touching at x = 5) -> 0; a1·b2 = 0
  const a = boxes([0, 0, 10, 10], [5, 0, 15, 10]);
  const b = boxes([0, 0, 10, 10], [0, 0, 5, 10], [20, 20, 30, 30]);
  allClose(t, await boxIou(a, b), [1, 0.5, 0, 1 / 3, 0, 0], 1e-6);
  // GIoU a1·b2: hull [5,0,30,30] = 750, union 200 -> −550/750 = −11/15.
  const giou = await generalizedBoxIou(a, b);
  t.true(Math.abs(giou[5]! - -11 / 15) < 1e-6);
});

test('degenerate and empty inputs: zero-area boxes give IoU 0, empty sets give empty results', async (t) => {
  // A point box has area 0: inter 0 with anything; two identical points have union 0 -> defined as 0.
  allClose(t, await boxIou(boxes([1, 1, 1, 1]), boxes([0, 0, 2, 2], [1, 1, 1, 1])), [0, 0], 1e-6);
  t.is((await boxIou(new Float32Array(0), boxes([0, 0, 1, 1]))).length, 0);
  t.is((await generalizedBoxIou(boxes([0, 0, 1, 1]), new Float32Array(0))).length, 0);
});

test('bad boxes are rejected naming the argument and the row; the process carries on', async (t) => {
  await t.throwsAsync(boxIou(new Float32Array(6), boxes([0, 0, 1, 1])), {
    instanceOf: LaxrayError,
    message: /boxIou: a must hold rows of x1, y1, x2, y2: its length 6 is not a multiple of 4/,
  });
  const reversed = await t.throwsAsync(boxIou(boxes([0, 0, 1, 1]), boxes([0, 0, 1, 1], [5, 0, 2, 3])), { instanceOf: LaxrayError });
  t.regex(reversed!.message, /boxIou: b: box 1 \[5, 0, 2, 3\] has x2 < x1/);
  t.is(reversed!.code, 'NATIVE_ERROR');
  await t.throwsAsync(generalizedBoxIou(boxes([0, 0, 1, 1], [0, 2, 1, 1]), boxes([0, 0, 1, 1])), {
    message: /generalizedBoxIou: a: box 1 \[0, 2, 1, 1\] has y2 < y1/,
  });
  await t.throwsAsync(boxIou(boxes([0, Number.NaN, 1, 1]), boxes([0, 0, 1, 1])), { message: /a: box 0 .* non-finite/ });
  await t.throwsAsync(boxIou(boxes([0, 0, Infinity, 1]), boxes([0, 0, 1, 1])), { message: /a: box 0 .* non-finite/ });
  await t.throwsAsync(boxIou([0, 0, 1, 1] as unknown as Float32Array, boxes([0, 0, 1, 1])), {
    instanceOf: LaxrayError,
    message: /boxIou: a must be a Float32Array/,
  });
  allClose(t, await boxIou(boxes([0, 0, 2, 2]), boxes([1, 1, 3, 3])), [1 / 7], 1e-6);
});
