// Precision and layout options (top-level precision, labelAwarePrecision,
// channelsLast, cudnnBenchmark): validated where they enter, and on the CPU
// tf32 = fp32 exactly, channels-last = the default layout within rounding, bf16
// close to fp32 within bfloat16's resolution.
import test from 'ava';
import { resolveConfig, type LaxrayConfigInput } from '../lib/config/index.js';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { thinR18 } from './helpers/small-detector.js';

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
