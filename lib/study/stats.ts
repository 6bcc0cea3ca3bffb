// The study's summary statistics: mean ± standard deviation over seeds, paired
// per-seed differences between two methods, percentiles and a seeded
// bootstrap. Plain numbers in, plain numbers out; nothing here knows about
// detectors.
import { LaxrayError } from '../errors.js';
import { mulberry32 } from '../data/random.js';

export interface MeanStd {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); NaN when n < 2. */
  std: number;
  n: number;
}

/** Mean and sample standard deviation (Bessel-corrected) of finite values; NaN mean when there are none. */
export function meanStd(values: readonly number[]): MeanStd {
  const finite = values.filter((v) => Number.isFinite(v));
  const n = finite.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: Number.NaN, n };
  const ss = finite.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

export interface PairedDifference extends MeanStd {
  /** The seeds both methods have, ascending, and method − reference for each. */
  seeds: number[];
  differences: number[];
}

/**
 * Paired differences method − reference over the seeds both have (a seed's
 * training noise is shared by nothing else, so pairing by seed only removes the
 * test-set noise both runs see): mean ± sample std of the per-seed differences.
 */
export function pairedDifference(method: ReadonlyMap<number, number>, reference: ReadonlyMap<number, number>): PairedDifference {
  const seeds = [...method.keys()].filter((s) => reference.has(s) && Number.isFinite(method.get(s)!) && Number.isFinite(reference.get(s)!)).sort((a, b) => a - b);
  const differences = seeds.map((s) => method.get(s)! - reference.get(s)!);
  return { ...meanStd(differences), seeds, differences };
}

/**
 * The q-th percentile (q in [0, 100]) with linear interpolation between order
 * statistics (numpy's default, 'linear'): rank (n − 1)·q/100.
 */
export function percentile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 100)) throw new LaxrayError('INVALID_ARGUMENT', `percentile q must be in [0, 100], got ${q}`);
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (rank - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface BootstrapResult {
  /** The statistic on the original sample. */
  estimate: number;
  /** Standard deviation of the statistic over the resamples (the bootstrap standard error). */
  std: number;
  /** Percentile interval [2.5%, 97.5%] of the resampled statistic. */
  interval95: [number, number];
  draws: number;
  seed: number;
}

/**
 * Nonparametric bootstrap over `count` units (test images): `draws` times,
 * draw `count` unit indices with replacement (mulberry32 seeded by `seed`) and
 * evaluate `statistic` on them. The same draws for the same seed, so two
 * statistics bootstrapped with one seed are paired.
 */
export function bootstrap(count: number, statistic: (indices: Int32Array) => number, options: { draws?: number; seed?: number } = {}): BootstrapResult {
  const draws = options.draws ?? 200;
  const seed = options.seed ?? 0;
  if (!(Number.isInteger(count) && count >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `bootstrap needs at least one unit to resample, got ${count}`);
  if (!(Number.isInteger(draws) && draws >= 2)) throw new LaxrayError('INVALID_ARGUMENT', `bootstrap draws must be an integer ≥ 2, got ${draws}`);
  const identity = Int32Array.from({ length: count }, (_, i) => i);
  const estimate = statistic(identity);
  const random = mulberry32(seed);
  const values: number[] = [];
  const indices = new Int32Array(count);
  for (let d = 0; d < draws; d++) {
    for (let i = 0; i < count; i++) indices[i] = Math.floor(random() * count);
    values.push(statistic(indices));
  }
  const { std } = meanStd(values);
  return { estimate, std, interval95: [percentile(values, 2.5), percentile(values, 97.5)], draws, seed };
}

// Two-sided 95% quantiles of Student's t, t_{0.975}(df), df = 1..30 (standard tables, 3 decimals).
// prettier-ignore
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
  2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
  2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t_{0.975}(df): tables up to 30, beyond that the Cornish–Fisher expansion around z = 1.96 (error < 1e-3). */
export function tQuantile975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `degrees of freedom must be an integer ≥ 1, got ${df}`);
  if (df <= T975.length) return T975[df - 1]!;
  const z = 1.959963984540054;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/**
 * The 95% t-interval of a mean from n values with sample std `std`:
 * mean ± t_{0.975}(n − 1)·std/√n. [NaN, NaN] when n < 2.
 */
export function confidenceInterval95(m: MeanStd): [number, number] {
  if (m.n < 2 || !Number.isFinite(m.std)) return [Number.NaN, Number.NaN];
  const half = (tQuantile975(m.n - 1) * m.std) / Math.sqrt(m.n);
  return [m.mean - half, m.mean + half];
}
