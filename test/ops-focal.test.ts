// laxray/ops sigmoid focal loss against the formula evaluated independently
// here (torchvision.ops.sigmoid_focal_loss semantics).
import test from 'ava';
import { LaxrayError } from '../lib/errors.js';
import { sigmoidFocalLoss } from '../lib/ops.js';

// loss = BCE(x, t) · (1 − p_t)^γ · α_t with p = σ(x), p_t = p·t + (1 − p)(1 − t),
// α_t = α·t + (1 − α)(1 − t); BCE(x, t) = max(x, 0) − x·t + log(1 + e^−|x|).
function reference(x: number, t: number, alpha: number, gamma: number): number {
  const p = 1 / (1 + Math.exp(-x));
  const bce = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
  const pt = p * t + (1 - p) * (1 - t);
  let loss = bce * Math.pow(1 - pt, gamma);
  if (alpha >= 0) loss *= alpha * t + (1 - alpha) * (1 - t);
  return loss;
}

const logits = new Float32Array([-4, -1.5, -0.25, 0, 0.3, 1, 2.5, 6, -6, 0]);
const targets = new Float32Array([0, 1, 0, 1, 1, 0, 1, 0, 1, 0.3]);

const near = (t: import('ava').ExecutionContext, a: number, b: number, rel = 1e-5): void => {
  t.true(Math.abs(a - b) <= rel * Math.max(1e-6, Math.abs(b)), `${a} vs ${b}`);
};

test('x = 0, t = 1: ln 2 · 0.5² · 0.25 = 0.0433217', async (t) => {
  // p = 0.5, BCE = ln 2 = 0.693147, (1 − p_t)² = 0.25, α_t = 0.25 -> 0.0433217.
  const [value] = await sigmoidFocalLoss(new Float32Array([0]), new Float32Array([1]));
  near(t, value!, Math.LN2 * 0.25 * 0.25);
});

test('per element, sum and mean match the formula for α, γ defaults and variants', async (t) => {
  for (const [alpha, gamma] of [
    [0.25, 2],
    [0.5, 1],
    [-1, 0], // no α weighting and γ 0: plain BCE
    [0.9, 3.5],
  ] as const) {
    const expected = Array.from(logits, (x, i) => reference(x, targets[i]!, alpha, gamma));
    const perElement = await sigmoidFocalLoss(logits, targets, { alpha, gamma });
    t.is(perElement.length, logits.length);
    expected.forEach((e, i) => near(t, perElement[i]!, e));
    const sum = expected.reduce((s, v) => s + v, 0);
    near(t, await sigmoidFocalLoss(logits, targets, { alpha, gamma, reduction: 'sum' }), sum);
    near(t, await sigmoidFocalLoss(logits, targets, { alpha, gamma, reduction: 'mean' }), sum / logits.length);
  }
});

test('confident correct predictions cost almost nothing; confident wrong ones cost about |x|', async (t) => {
  const [right, wrong] = await sigmoidFocalLoss(new Float32Array([12, 12]), new Float32Array([1, 0]));
  t.true(right! < 1e-10);
  near(t, wrong!, 0.75 * 12, 1e-4); // BCE ≈ 12, (1 − p_t)² ≈ 1, α_t = 0.75
});

test('bad focal-loss arguments are rejected; the process carries on', async (t) => {
  await t.throwsAsync(sigmoidFocalLoss(new Float32Array(3), new Float32Array(2)), {
    instanceOf: LaxrayError,
    message: /logits \(3\) and targets \(2\) must have the same length/,
  });
  await t.throwsAsync(sigmoidFocalLoss(logits, targets, { reduction: 'avg' as 'sum' }), { message: /reduction must be 'none', 'sum' or 'mean', got 'avg'/ });
  await t.throwsAsync(sigmoidFocalLoss(logits, targets, { gamma: -1 }), { instanceOf: LaxrayError, message: /gamma must be a finite number >= 0, got -1/ });
  await t.throwsAsync(sigmoidFocalLoss(logits, targets, { alpha: 2 }), { message: /alpha must be <= 1/ });
  t.is((await sigmoidFocalLoss(new Float32Array(0), new Float32Array(0), { reduction: 'sum' })), 0);
  near(t, (await sigmoidFocalLoss(new Float32Array([0]), new Float32Array([1])))[0]!, Math.LN2 / 16);
});
