// OPIXray-style per-class AP at IoU 0.5: the PASCAL VOC evaluation that the
// OPIXray benchmark's test.py runs (voc_eval with ovthresh 0.5), which is what
// papers reporting OPIXray numbers (the LA paper's Table IV included) compare.
//
// Per class, over the evaluated images: every detection (no per-image cap),
// ordered by descending score; each takes the ground-truth box it overlaps
// most (boxes as x1, y1, x2 = x + w, y2 = y + h, no +1 pixel). It is a true
// positive when that IoU is strictly above 0.5 and the box is still free, a
// false positive otherwise (a taken box is not passed on to the next best).
// Crowd regions (and, with honorIgnoreFlag, boxes marked "ignore") play VOC's
// "difficult": not counted, and a detection on one is neither TP nor FP.
// AP is the area under the precision envelope (VOC2010+, OPIXray's default) or
// the 11-point mean (VOC2007).
//
// Differences from that script, on purpose: equal scores keep a fixed order
// (image id, then file order) instead of numpy's unstable quicksort order; a
// class without ground truth gets null instead of NaN.
import type { Grouping } from './group.js';
import { rankByCategory } from './sort.js';
import { pairwiseSum } from './summarize.js';
import type { IndexedDetections, IndexedGroundTruth } from './types.js';

export type VocApMethod = 'area' | '11point';

const TP = 1;
const FP = 2;

export interface VocClassResult {
  id: number;
  name: string;
  /** AP at IoU > 0.5, or null when the class has no (non-difficult) ground truth in the evaluated images. */
  AP50: number | null;
  /** Non-difficult ground-truth boxes. */
  numGroundTruth: number;
  /** Detections of the class in the evaluated images (all of them). */
  numDetections: number;
}

/**
 * @param grouping detections grouped by (category, image) WITHOUT a per-image cap
 *   (groupByCategoryAndImage with maxDet = Infinity), ground truth likewise.
 * @param options.ranking the grouping's per-category score order (rankByCategory), if already known.
 */
export function vocPerClassAP(
  gt: IndexedGroundTruth,
  dets: IndexedDetections,
  grouping: Grouping,
  options: { iouThreshold?: number; method?: VocApMethod; honorIgnoreFlag?: boolean; ranking?: Int32Array } = {},
): VocClassResult[] {
  const thr = options.iouThreshold ?? 0.5;
  const method = options.method ?? 'area';
  const honorIgnore = options.honorIgnoreFlag === true;
  const { numImages: I, numCategories: K, gtStart, gtOrder, detStart, kept, score } = grouping;
  const { annBox, annCrowd, annIgnoreField } = gt;
  const box = dets.box;
  const taken = new Uint8Array(gt.count);
  const results: VocClassResult[] = [];
  const ranked = options.ranking ?? rankByCategory(detStart, I, K, score);
  // Scratch reused across classes.
  let imageOf = new Int32Array(0);
  let outcome = new Uint8Array(0); // 1 = TP, 2 = FP, 0 = neither (a "difficult" box)
  let rec = new Float64Array(0);
  let prec = new Float64Array(0);

  for (let k = 0; k < K; k++) {
    const base = detStart[k * I]!;
    const n = detStart[(k + 1) * I]! - base;
    let npos = 0;
    for (let j = gtStart[k * I]!; j < gtStart[(k + 1) * I]!; j++) {
      const a = gtOrder[j]!;
      if (!(annCrowd[a] || (honorIgnore && annIgnoreField[a]))) npos++;
    }
    if (npos === 0) {
      results.push({ id: gt.categoryIds[k]!, name: gt.categoryNames[k]!, AP50: null, numGroundTruth: 0, numDetections: n });
      continue;
    }
    if (imageOf.length < n) {
      imageOf = new Int32Array(n);
      outcome = new Uint8Array(n);
      rec = new Float64Array(n);
      prec = new Float64Array(n);
    }
    // Image (group key) of each detection of this category.
    for (let i = 0; i < I; i++) {
      for (let p = detStart[k * I + i]!; p < detStart[k * I + i + 1]!; p++) imageOf[p - base] = k * I + i;
    }
    const order = ranked.subarray(base, base + n);
    outcome.fill(0, 0, n);
    for (let r = 0; r < n; r++) {
      const p = order[r]!;
      const key = imageOf[p]!;
      const g0 = gtStart[key]!;
      const g1 = gtStart[key + 1]!;
      if (g0 === g1) {
        outcome[r] = FP; // no box of this class in the image
        continue;
      }
      const dj = kept[base + p]!;
      const dx1 = box[4 * dj]!;
      const dy1 = box[4 * dj + 1]!;
      const dx2 = dx1 + box[4 * dj + 2]!;
      const dy2 = dy1 + box[4 * dj + 3]!;
      let ovmax = -Infinity;
      let jmax = -1;
      for (let q = g0; q < g1; q++) {
        const a = gtOrder[q]!;
        const gx1 = annBox[4 * a]!;
        const gy1 = annBox[4 * a + 1]!;
        const gx2 = gx1 + annBox[4 * a + 2]!;
        const gy2 = gy1 + annBox[4 * a + 3]!;
        const iw = Math.max(Math.min(gx2, dx2) - Math.max(gx1, dx1), 0);
        const ih = Math.max(Math.min(gy2, dy2) - Math.max(gy1, dy1), 0);
        const inter = iw * ih;
        const uni = (dx2 - dx1) * (dy2 - dy1) + (gx2 - gx1) * (gy2 - gy1) - inter;
        const ov = inter / uni;
        if (ov > ovmax) {
          ovmax = ov;
          jmax = a;
        }
      }
      if (ovmax > thr) {
        if (!(annCrowd[jmax] || (honorIgnore && annIgnoreField[jmax]))) {
          if (!taken[jmax]) {
            outcome[r] = TP;
            taken[jmax] = 1;
          } else outcome[r] = FP;
        }
      } else outcome[r] = FP;
    }
    // Cumulative precision / recall along the score order (tp, fp counts are exact integers).
    let ctp = 0;
    let cfp = 0;
    for (let r = 0; r < n; r++) {
      const o = outcome[r]!;
      if (o === TP) ctp++;
      else if (o === FP) cfp++;
      rec[r] = ctp / npos;
      prec[r] = ctp / Math.max(ctp + cfp, Number.EPSILON);
    }
    const curveRec = rec.subarray(0, n);
    const curvePrec = prec.subarray(0, n);
    const ap = method === 'area' ? vocAreaAP(curveRec, curvePrec) : voc07AP(curveRec, curvePrec);
    results.push({ id: gt.categoryIds[k]!, name: gt.categoryNames[k]!, AP50: ap, numGroundTruth: npos, numDetections: n });
  }
  return results;
}

/** VOC2010+ AP: area under the precision envelope, summed where recall changes. */
export function vocAreaAP(rec: Float64Array, prec: Float64Array): number {
  const n = rec.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  mrec.set(rec, 1);
  mrec[n + 1] = 1;
  mpre.set(prec, 1);
  for (let i = n + 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1]!, mpre[i]!);
  // np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]) over the indices where recall changes
  const terms = new Float64Array(n + 1);
  let m = 0;
  for (let i = 0; i < n + 1; i++) if (mrec[i + 1] !== mrec[i]) terms[m++] = (mrec[i + 1]! - mrec[i]!) * mpre[i + 1]!;
  return pairwiseSum(terms, 0, m);
}

/** VOC2007 11-point AP: mean of the best precision at recall ≥ 0, 0.1, …, 1. */
export function voc07AP(rec: Float64Array, prec: Float64Array): number {
  let ap = 0;
  for (let i = 0; i < 11; i++) {
    const t = i * 0.1; // np.arange(0., 1.1, 0.1)
    let p = 0;
    let any = false;
    for (let r = 0; r < rec.length; r++) {
      if (rec[r]! >= t) {
        if (!any || prec[r]! > p) p = prec[r]!;
        any = true;
      }
    }
    ap += p / 11;
  }
  return ap;
}
