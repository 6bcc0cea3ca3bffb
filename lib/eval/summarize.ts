// The 12 COCO summary numbers — pycocotools' summarize() — and the same
// averages per category. A mean skips the -1 entries (categories without
// ground truth); a mean over nothing is -1 in `stats` (pycocotools) and null
// per class. Means are summed the way numpy sums (pairwise summation), so they
// match np.mean bit for bit, not just to rounding.
import type { Accumulated } from './accumulate.js';
import { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, type AreaRangeLabel } from './params.js';

export const STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;
export type StatName = (typeof STAT_NAMES)[number];
export type CocoStats = Record<StatName, number>;

interface StatSpec {
  ap: boolean;
  iouThr?: number;
  area: AreaRangeLabel;
  maxDets: number;
}

/** pycocotools' _summarizeDets, in order. */
export const STAT_SPECS: Record<StatName, StatSpec> = {
  AP: { ap: true, area: 'all', maxDets: 100 },
  AP50: { ap: true, iouThr: 0.5, area: 'all', maxDets: 100 },
  AP75: { ap: true, iouThr: 0.75, area: 'all', maxDets: 100 },
  APs: { ap: true, area: 'small', maxDets: 100 },
  APm: { ap: true, area: 'medium', maxDets: 100 },
  APl: { ap: true, area: 'large', maxDets: 100 },
  AR1: { ap: false, area: 'all', maxDets: 1 },
  AR10: { ap: false, area: 'all', maxDets: 10 },
  AR100: { ap: false, area: 'all', maxDets: 100 },
  ARs: { ap: false, area: 'small', maxDets: 100 },
  ARm: { ap: false, area: 'medium', maxDets: 100 },
  ARl: { ap: false, area: 'large', maxDets: 100 },
};

const PW_BLOCKSIZE = 128;

/** numpy's pairwise_sum for float64 over v[lo, lo + n) (what np.sum / np.mean use). */
export function pairwiseSum(v: Float64Array, lo: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += v[lo + i]!;
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = v[lo]!, r1 = v[lo + 1]!, r2 = v[lo + 2]!, r3 = v[lo + 3]!;
    let r4 = v[lo + 4]!, r5 = v[lo + 5]!, r6 = v[lo + 6]!, r7 = v[lo + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      r0 += v[lo + i]!;
      r1 += v[lo + i + 1]!;
      r2 += v[lo + i + 2]!;
      r3 += v[lo + i + 3]!;
      r4 += v[lo + i + 4]!;
      r5 += v[lo + i + 5]!;
      r6 += v[lo + i + 6]!;
      r7 += v[lo + i + 7]!;
    }
    let res = (r0 + r1 + (r2 + r3)) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += v[lo + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(v, lo, n2) + pairwiseSum(v, lo + n2, n - n2);
}

/**
 * np.mean of the first n values of v as numpy (2.x) computes it for a
 * contiguous float64 array: one pairwise sum, divided by n. NaN when n = 0.
 */
export function numpyMean(v: Float64Array, n: number): number {
  return pairwiseSum(v, 0, n) / n;
}

function areaIndex(label: AreaRangeLabel): number {
  return AREA_RANGES.findIndex((r) => r.label === label);
}

function iouIndex(thr: number): number {
  const t = IOU_THRESHOLDS.indexOf(thr);
  if (t < 0) throw new Error(`IoU threshold ${thr} is not one of the evaluation thresholds`);
  return t;
}

/**
 * The mean of the selected precision (ap) or recall entries that are > -1, in
 * numpy's C order (t, r, k), optionally for one category only. Null when none.
 */
function meanOf(acc: Accumulated, spec: StatSpec, category: number | undefined, scratch: Float64Array): number | null {
  const { T, K } = acc.shape;
  const a = areaIndex(spec.area);
  const m = MAX_DETS.indexOf(spec.maxDets);
  const t0 = spec.iouThr === undefined ? 0 : iouIndex(spec.iouThr);
  const t1 = spec.iouThr === undefined ? T : t0 + 1;
  const k0 = category ?? 0;
  const k1 = category === undefined ? K : category + 1;
  const n = spec.ap ? collectPrecision(acc, t0, t1, k0, k1, a, m, scratch) : collectRecall(acc, t0, t1, k0, k1, a, m, scratch);
  return n === 0 ? null : numpyMean(scratch, n);
}

/** precision[t0:t1, :, k0:k1, a, m] entries > -1 in C order (t, r, k) into out; returns how many. */
function collectPrecision(acc: Accumulated, t0: number, t1: number, k0: number, k1: number, a: number, m: number, out: Float64Array): number {
  const { R, K, A, M } = acc.shape;
  const p = acc.precision;
  let n = 0;
  for (let t = t0; t < t1; t++) {
    for (let r = 0; r < R; r++) {
      for (let k = k0; k < k1; k++) {
        const v = p[(((t * R + r) * K + k) * A + a) * M + m]!;
        if (v > -1) out[n++] = v;
      }
    }
  }
  return n;
}

/** recall[t0:t1, k0:k1, a, m] entries > -1 in C order (t, k) into out; returns how many. */
function collectRecall(acc: Accumulated, t0: number, t1: number, k0: number, k1: number, a: number, m: number, out: Float64Array): number {
  const { K, A, M } = acc.shape;
  const rec = acc.recall;
  let n = 0;
  for (let t = t0; t < t1; t++) {
    for (let k = k0; k < k1; k++) {
      const v = rec[((t * K + k) * A + a) * M + m]!;
      if (v > -1) out[n++] = v;
    }
  }
  return n;
}

/** The 12 numbers of COCOeval.summarize() (-1 where nothing could be averaged). */
export function summarize(acc: Accumulated): CocoStats {
  const scratch = new Float64Array(acc.precision.length);
  const stats = {} as CocoStats;
  for (const name of STAT_NAMES) stats[name] = meanOf(acc, STAT_SPECS[name], undefined, scratch) ?? -1;
  return stats;
}

/** The same 12 numbers for one category (index into the sorted category ids); null where it has no ground truth. */
export function summarizeCategory(acc: Accumulated, k: number): Record<StatName, number | null> {
  const scratch = new Float64Array(acc.shape.T * acc.shape.R);
  const out = {} as Record<StatName, number | null>;
  for (const name of STAT_NAMES) out[name] = meanOf(acc, STAT_SPECS[name], k, scratch);
  return out;
}
