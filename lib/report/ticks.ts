// "Nice" axis ticks (1, 2, 2.5, 5 × 10^k steps) and their labels.

export interface Ticks {
  /** Axis range after rounding out to whole steps. */
  min: number;
  max: number;
  step: number;
  values: number[];
}

/** About `target` ticks covering [lo, hi], the range extended to multiples of the step. */
export function niceTicks(lo: number, hi: number, target = 6): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / Math.max(1, target - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * 0.999) ?? 10 * magnitude;
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = min; v <= max + step * 1e-9; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : roundTo(v, step));
  return { min: values[0]!, max: values[values.length - 1]!, step, values };
}

/** Integer ticks only (iterations, epochs): the step is at least 1. */
export function integerTicks(lo: number, hi: number, target = 6): Ticks {
  const t = niceTicks(lo, hi, target);
  if (t.step >= 1 && Number.isInteger(t.step)) return t;
  const step = Math.max(1, Math.ceil(t.step));
  const min = Math.floor(lo / step) * step;
  const max = Math.max(min + step, Math.ceil(hi / step) * step);
  const values: number[] = [];
  for (let v = min; v <= max; v += step) values.push(v);
  return { min, max, step, values };
}

/** A tick label with just the decimals the step needs; 12000 -> "12k" when the step allows. */
export function formatTick(value: number, step: number): string {
  if (Math.abs(value) >= 10000 && step >= 1000 && step % 1000 === 0) return `${value / 1000}k`;
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9) + (isQuarterStep(step) ? 1 : 0));
  return value.toFixed(Math.min(decimals, 10));
}

function isQuarterStep(step: number): boolean {
  const m = step / 10 ** Math.floor(Math.log10(step));
  return Math.abs(m - 2.5) < 1e-9;
}

function roundTo(v: number, step: number): number {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step)) + 2);
  return Number(v.toFixed(Math.min(decimals, 15)));
}
