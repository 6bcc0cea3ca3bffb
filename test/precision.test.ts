// Precision and layout options (top-level precision, labelAwarePrecision,
// channelsLast, cudnnBenchmark): validated where they enter, and on the CPU
// tf32 = fp32 exactly, channels-last = the default layout within rounding, bf16
// close to fp32 within bfloat16's resolution.
import test from 'ava';
import { resolveConfig, type LaxrayConfigInput } from '../lib/config/index.js';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { thinR18, trainingBatch } from './helpers/small-detector.js';

const base = {
  device: 'cpu' as const,
  classes: ['a', 'b', 'c'],
  model: thinR18({ width: 64 }),
  train: { seed: 3 },
} satisfies LaxrayConfigInput;

const [H, W] = [96, 128];
const input = { data: Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i * 0.01) + Math.cos(i * 0.0007)), shape: [1, 3, H, W] };

async function outputs(extra: LaxrayConfigInput): Promise<Record<string, Float32Array>> {
  const detector = await Detector.create({ ...base, ...extra });
  const named = await detector.inspect(input);
  return Object.fromEntries(Object.entries(named).map(([k, v]) => [k, v.data as Float32Array]));
}

function largestDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

test('precision is validated where it enters: fp16 on the CPU is refused, naming what to use', async (t) => {
  const err = t.throws(() => resolveConfig({ ...base, precision: 'fp16' }), { instanceOf: LaxrayError }) as LaxrayError;
  t.is(err.code, 'INVALID_CONFIG');
  t.regex(err.message, /precision.*'fp16' needs a CUDA device.*'bf16' or 'fp32'/s);
  t.throws(() => resolveConfig({ ...base, precision: 'fp8' as never }), { instanceOf: LaxrayError, message: /precision/ });
  t.throws(() => resolveConfig({ ...base, channelsLast: 'yes' as never }), { instanceOf: LaxrayError, message: /channelsLast/ });
  // the addon refuses it as well when called directly
  const model = resolveConfig(base).model;
  await t.throwsAsync(native.createDetector(model, 'cpu', 0, { precision: 'fp16', labelAwarePrecision: 'fp32', channelsLast: false, cudnnBenchmark: true }), {
    message: /'fp16' needs a CUDA device/,
  });
  const defaults = resolveConfig(base);
  t.like(defaults, { precision: 'fp32', labelAwarePrecision: 'fp32', channelsLast: false, cudnnBenchmark: true });
});

test('on the CPU: tf32 is fp32, channels-last gives the same outputs, bf16 stays close', async (t) => {
  const fp32 = await outputs({});
  const tf32 = await outputs({ precision: 'tf32' });
  for (const [name, value] of Object.entries(fp32)) t.deepEqual(tf32[name], value, `${name}: tf32 on the CPU is fp32`);
  const nhwc = await outputs({ channelsLast: true });
  for (const [name, value] of Object.entries(fp32)) {
    t.true(largestDifference(nhwc[name]!, value) <= 1e-3 * Math.max(1, ...Array.from(value, Math.abs)), `${name}: channels-last`);
  }
  const bf16 = await outputs({ precision: 'bf16' });
  for (const name of ['head.p3.cls', 'head.p4.quality', 'la.p3.w1', 'la.p3.w2']) {
    const scale = Math.max(...Array.from(fp32[name]!, Math.abs));
    const worst = largestDifference(bf16[name]!, fp32[name]!);
    t.true(worst <= 0.05 * Math.max(1, scale), `${name}: bf16 within 5% of fp32's range (${worst} of ${scale})`);
  }
});

// fp16's loss scaler (native/precision.h) is part of the optimizer state, as
// GradScaler's state_dict is in a PyTorch checkpoint: a resumed fp16 run goes
// on with the scale it had, not 65536 again.
const SCALER = 'amp.loss_scaler';
// the GPU suite (scripts/gpu/check.sh) runs the tests with LAXRAY_DEVICE=cuda
const onCuda = process.env.LAXRAY_DEVICE?.startsWith('cuda') === true;

test('an fp32 run has no loss scaler in its optimizer state; a scaler entry from an fp16 run is ignored, a malformed one refused', async (t) => {
  const detector = await Detector.create(base);
  await detector.trainStep(trainingBatch(2, 96, 1), 0.01);
  const state = await detector.optimizerState();
  t.false(SCALER in state);
  await t.notThrowsAsync(detector.loadOptimizerState({ ...state, [SCALER]: { data: Float32Array.from([1024, 5]), shape: [2] } }));
  const err = await t.throwsAsync(detector.loadOptimizerState({ ...state, [SCALER]: { data: Float32Array.from([1024, 5, 1]), shape: [3] } }), { instanceOf: LaxrayError });
  t.regex(err?.message ?? '', /amp\.loss_scaler: expected \[scale, finite steps\], got 3 values/);
});

(onCuda ? test : test.skip)('fp16 (CUDA): the loss scaler is saved with the momentum, restored on load and checked', async (t) => {
  const config = { ...base, device: 'cuda' as const, precision: 'fp16' as const };
  const first = await Detector.create(config);
  for (let step = 0; step < 2; step++) await first.trainStep(trainingBatch(2, 96, step + 1), 0.01);
  const state = await first.optimizerState();
  t.deepEqual(Array.from(state[SCALER]!.data), [65536, 2], 'initial scale, two finite steps');

  const resumed = await Detector.create(config);
  await resumed.loadOptimizerState({ ...state, [SCALER]: { data: Float32Array.from([4096, 7]), shape: [2] } });
  await resumed.trainStep(trainingBatch(2, 96, 3), 0.01);
  t.deepEqual(Array.from((await resumed.optimizerState())[SCALER]!.data), [4096, 8], 'the restored scale and count go on');

  for (const [values, message] of [[[Number.NaN, 0], /loss scale must be a finite number >= 1/], [[0.5, 0], /loss scale must be a finite number >= 1/], [[1024, 2000], /whole number in 0\.\.1999/]] as const) {
    const err = await t.throwsAsync(resumed.loadOptimizerState({ ...state, [SCALER]: { data: Float32Array.from(values), shape: [2] } }), { instanceOf: LaxrayError });
    t.regex(err?.message ?? '', message);
  }
});
