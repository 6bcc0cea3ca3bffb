// Precision / recall accumulation — pycocotools' COCOeval.accumulate — over
// the matched detections.
//
// For each category, area range and maxDets, the detections of all evaluated
// images (each image's best maxDet) are ordered by descending score; equal
// scores keep the concatenation order (images by ascending id, then rank in
// the image), as np.argsort(-scores, kind='mergesort') does. Along that order
// tp/fp are counted (ignored detections count as neither), recall = tp / npig,
// precision = tp / (tp + fp + eps) made monotone from the right, and read at
// the 101 recall thresholds (np.searchsorted(recall, thresholds, 'left');
// thresholds beyond the last recall get 0).
//
// Instead of materialising the tp/fp curves, only true positives are visited:
// between two true positives precision can only fall, so the right-to-left
// maximum at the c-th true positive is the maximum over true positives ≥ c, and
// the threshold lookup lands on a true-positive position (or position 0). The
// numbers are the same operations on the same values, hence identical.
import type { Grouping } from './group.js';
import { FP, SLOTS, TP, type MatchResult } from './match.js';
import { rankByCategory } from './sort.js';
import { A, EPS, M, MAX_DETS, R, RECALL_THRESHOLDS, T } from './params.js';

export interface Accumulated {
  /** [T, R, K, A, M] row-major; -1 where a category has no (non-ignored) ground truth. */
  precision: Float64Array;
  /** [T, K, A, M]; -1 likewise. */
  recall: Float64Array;
  /** [T, R, K, A, M]: the score at which each recall threshold is reached (0 if never). */
  scores: Float64Array;
  shape: { T: number; R: number; K: number; A: number; M: number };
}

/**
 * @param ranking per-category score order of the kept detections (rankByCategory);
 *   computed here when not given.
 */
export function accumulate(grouping: Grouping, match: MatchResult, ranking?: Int32Array): Accumulated {
  const { numImages: I, numCategories: K, detStart, rank, score } = grouping;
  const { status, npig, row, areaMask } = match;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const recThr = RECALL_THRESHOLDS;

  const tpCount = new Int32Array(SLOTS);
  const fpCount = new Int32Array(SLOTS); // false positives among detections that matched something
  const unmatchedFp = new Int32Array(A); // false positives among those that matched nothing
  const ranked = ranking ?? rankByCategory(detStart, I, K, score);
  let order: Int32Array = new Int32Array(0);
  // One category's detections gathered in score order, so the passes below read memory in sequence.
  let sRow = new Int32Array(0);
  let sRank = new Int32Array(0);
  let sMask = new Uint8Array(0);
  let sScore = new Float64Array(0);
  let tpFp = new Int32Array(0); // fp count at the c-th true positive, per slot
  let tpScore = new Float64Array(0); // score of the c-th true positive, per slot

  for (let k = 0; k < K; k++) {
    let cap = 0;
    for (let a = 0; a < A; a++) cap = Math.max(cap, npig[k * A + a]!);
    if (cap === 0) continue; // no ground truth in any area range: stays -1
    const base = detStart[k * I]!;
    const n = detStart[(k + 1) * I]! - base;
    if (order.length < n) {
      sRow = new Int32Array(n);
      sRank = new Int32Array(n);
      sMask = new Uint8Array(n);
      sScore = new Float64Array(n);
    }
    order = ranked.subarray(base, base + n);
    let maxRank = -1;
    for (let i = 0; i < n; i++) {
      const d = base + order[i]!;
      sRow[i] = row[d]!;
      const rk = rank[d]!;
      sRank[i] = rk;
      if (rk > maxRank) maxRank = rk;
      sMask[i] = areaMask[d]!;
      sScore[i] = score[d]!;
    }
    const stride = cap + 1;
    if (tpFp.length < SLOTS * stride) {
      tpFp = new Int32Array(SLOTS * stride);
      tpScore = new Float64Array(SLOTS * stride);
    }

    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m]!;
      const filter = maxRank >= maxDet; // some detection ranks beyond maxDet in its image
      tpCount.fill(0);
      fpCount.fill(0);
      unmatchedFp.fill(0);
      // Forward: count tp / fp along the score order, remembering each true positive.
      let nd = 0;
      let firstScore = 0;
      for (let i = 0; i < n; i++) {
        if (filter && sRank[i]! >= maxDet) continue;
        if (nd === 0) firstScore = sScore[i]!;
        nd++;
        const r = sRow[i]!;
        if (r < 0) {
          // matched nothing: a false positive in the area ranges its w·h falls in (A = 4)
          const mask = sMask[i]!;
          if (mask & 1) unmatchedFp[0]!++;
          if (mask & 2) unmatchedFp[1]!++;
          if (mask & 4) unmatchedFp[2]!++;
          if (mask & 8) unmatchedFp[3]!++;
          continue;
        }
        const sc = sScore[i]!;
        const at = r * SLOTS;
        for (let s = 0; s < SLOTS; s++) {
          const st = status[at + s]!;
          if (st === TP) {
            const c = ++tpCount[s]!;
            tpFp[s * stride + c] = fpCount[s]! + unmatchedFp[(s / T) | 0]!;
            tpScore[s * stride + c] = sc;
          } else if (st === FP) fpCount[s]!++;
        }
      }
      for (let a = 0; a < A; a++) {
        const np = npig[k * A + a]!;
        if (np === 0) continue;
        for (let t = 0; t < T; t++) {
          const s = a * T + t;
          const tpTot = tpCount[s]!;
          const rIdx = ((t * K + k) * A + a) * M + m;
          recall[rIdx] = nd > 0 ? tpTot / np : 0;
          const pBase = (t * R * K + k) * A * M + a * M + m; // + r·K·A·M
          const rStride = K * A * M;
          if (nd === 0) {
            for (let r = 0; r < R; r++) {
              precision[pBase + r * rStride] = 0;
              scores[pBase + r * rStride] = 0;
            }
            continue;
          }
          let r = R - 1;
          const rcFinal = tpTot / np;
          for (; r >= 0 && recThr[r]! > rcFinal; r--) {
            precision[pBase + r * rStride] = 0;
            scores[pBase + r * rStride] = 0;
          }
          let env = 0;
          for (let c = tpTot; c >= 1; c--) {
            const fp = tpFp[s * stride + c]!;
            const pr = c / (fp + c + EPS);
            if (pr > env) env = pr;
            const rcPrev = (c - 1) / np;
            const sc = tpScore[s * stride + c]!;
            for (; r >= 0 && recThr[r]! > rcPrev; r--) {
              precision[pBase + r * rStride] = env;
              scores[pBase + r * rStride] = sc;
            }
          }
          for (; r >= 0; r--) {
            precision[pBase + r * rStride] = env;
            scores[pBase + r * rStride] = firstScore;
          }
        }
      }
    }
  }
  return { precision, recall, scores, shape: { T, R, K, A, M } };
}
