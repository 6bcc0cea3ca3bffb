// LA as the head runs it: every level's first prediction first, then one
// gradient pass per objective over all levels, and the reweighting as one
// product x·(a + b·w1 − c·w2). Checked against the per-level computation (the
// public op on each level alone) and against eq. 5 written out term by term.
import test from 'ava';
import { mulberry32 } from '../lib/data/random.js';
import { labelAwareCls } from '../lib/label_aware.js';
import { native } from '../lib/native.js';

const random = mulberry32(5);
const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const cin = 8;
const classes = 5;
const weight = Float32Array.from({ length: classes * cin }, () => normal() * 0.5);
const bias = Float32Array.from({ length: classes }, () => normal() * 0.5 - 1);
const levels = [
  [2, cin, 6, 7],
  [2, cin, 3, 4],
  [2, cin, 2, 2],
].map((shape) => ({ x: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, normal), shape }));
const coefficients = { a: 0.8, b: 1.2, c: 0.8 }; // eq. 8: a + b/2 − c/2 = 1

test('all levels in one gradient pass per objective = each level on its own', async (t) => {
  const together = await native.labelAwareClsLevels(levels, weight, [classes, cin], bias, coefficients.a, coefficients.b, coefficients.c);
  t.is(together.length, levels.length);
  for (let l = 0; l < levels.length; l++) {
    const alone = await labelAwareCls({ x: levels[l]!.x, shape: levels[l]!.shape as [number, number, number, number], weight, bias, coefficients });
    for (const key of ['w1', 'w2', 'xNew'] as const) {
      const a = together[l]![key].data;
      const b = alone[key].data;
      t.is(a.length, b.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      t.true(worst <= 1e-6, `level ${l} ${key}: largest difference ${worst}`);
    }
  }
});

test('the fused reweighting x·(a + b·w1 − c·w2) is eq. 5 written out, a·x + b·w1·x − c·w2·x, within float rounding', async (t) => {
  const out = await native.labelAwareClsLevels(levels, weight, [classes, cin], bias, coefficients.a, coefficients.b, coefficients.c);
  const { a, b, c } = coefficients;
  for (let l = 0; l < levels.length; l++) {
    const x = levels[l]!.x;
    const { w1, w2, xNew } = out[l]!;
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const written = a * x[i]! + b * w1.data[i]! * x[i]! - c * w2.data[i]! * x[i]!;
      worst = Math.max(worst, Math.abs(xNew.data[i]! - written) / Math.max(1, Math.abs(written)));
    }
    t.true(worst <= 1e-6, `level ${l}: relative difference ${worst}`);
    // and LA does something: the weights are not all 0.5 (x_new ≠ x somewhere)
    t.true(Array.from(w1.data).some((w) => Math.abs(w - 0.5) > 1e-4));
  }
});
