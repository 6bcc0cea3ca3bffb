// Per (image, category) greedy matching — pycocotools' evaluateImg — for every
// area range and IoU threshold at once.
//
// For each kept detection (best score first) and each threshold t, the
// detection takes the ground-truth box with the highest IoU ≥ t that is still
// free (crowd boxes are never used up), preferring real boxes over ignored
// ones: once matched to a non-ignored box, the scan stops at the first ignored
// one (ground truth is ordered non-ignored first). A ground-truth box is
// ignored when it is a crowd box or its `area` is outside the range. A
// detection matched to an ignored box, or unmatched with w·h outside the
// range, is ignored.
import { cocoBoxIou } from './iou.js';
import type { Grouping } from './group.js';
import { AREA_RANGES, IOU_THRESHOLDS, A, T } from './params.js';
import type { IndexedDetections, IndexedGroundTruth } from './types.js';

/** Outcome of one detection at one (area range, IoU threshold). */
export const FP = 0;
export const TP = 1;
export const IGNORED = 2;

/** Slots per kept detection: status[kept · A·T + a · T + t]. */
export const SLOTS = A * T;

export interface MatchOptions {
  /**
   * Also ignore ground truth whose `ignore` field is truthy (like crowd, but it
   * can be matched once). pycocotools overwrites `ignore` with `iscrowd`, so the
   * default (false) gives its numbers.
   */
  honorIgnoreFlag?: boolean;
}

export interface MatchResult {
  /** FP / TP / IGNORED per kept detection and slot. */
  status: Uint8Array;
  /** Non-ignored ground truth per category and area range: npig[k · A + a]. */
  npig: Int32Array;
}

export function matchAll(gt: IndexedGroundTruth, dets: IndexedDetections, grouping: Grouping, options: MatchOptions = {}): MatchResult {
  const { numImages: I, numCategories: K, gtStart, gtOrder, detStart, kept } = grouping;
  const honorIgnore = options.honorIgnoreFlag === true;
  const status = new Uint8Array(kept.length * SLOTS);
  const npig = new Int32Array(K * A);
  const aMin = new Float64Array(A);
  const aMax = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    aMin[a] = AREA_RANGES[a]!.min;
    aMax[a] = AREA_RANGES[a]!.max;
  }
  const thr = new Float64Array(T);
  for (let t = 0; t < T; t++) thr[t] = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
  const gBoxes = gt.annBox;
  const dBoxes = dets.box;
  const { annArea, annCrowd, annIgnoreField, annId } = gt;

  // Scratch buffers, grown on demand.
  let ious = new Float64Array(1024);
  let gOrd = new Int32Array(64);
  let gIg = new Uint8Array(64);
  let gCrowd = new Uint8Array(64);
  let gIdZero = new Uint8Array(64);
  let gUsed = new Uint8Array(64);
  let dOut = new Uint8Array(128 * A);

  for (let key = 0; key < K * I; key++) {
    const k = (key / I) | 0;
    const g0 = gtStart[key]!;
    const G = gtStart[key + 1]! - g0;
    // Ground truth counts toward recall even where there are no detections.
    for (let p = 0; p < G; p++) {
      const j = gtOrder[g0 + p]!;
      if (annCrowd[j] || (honorIgnore && annIgnoreField[j])) continue;
      const area = annArea[j]!;
      for (let a = 0; a < A; a++) if (!(area < aMin[a]! || area > aMax[a]!)) npig[k * A + a]!++;
    }
    const d0 = detStart[key]!;
    const D = detStart[key + 1]! - d0;
    if (D === 0) continue;

    // Unmatched outcome per detection and area range: ignored when w·h is out of range.
    if (dOut.length < D * A) dOut = new Uint8Array(D * A);
    for (let d = 0; d < D; d++) {
      const j = kept[d0 + d]!;
      const area = dBoxes[4 * j + 2]! * dBoxes[4 * j + 3]!;
      for (let a = 0; a < A; a++) dOut[d * A + a] = area < aMin[a]! || area > aMax[a]! ? IGNORED : FP;
    }
    if (G === 0) {
      for (let d = 0; d < D; d++) {
        const base = (d0 + d) * SLOTS;
        for (let a = 0; a < A; a++) status.fill(dOut[d * A + a]!, base + a * T, base + a * T + T);
      }
      continue;
    }

    if (ious.length < D * G) ious = new Float64Array(D * G);
    if (gOrd.length < G) {
      gOrd = new Int32Array(G);
      gIg = new Uint8Array(G);
      gCrowd = new Uint8Array(G);
      gIdZero = new Uint8Array(G);
      gUsed = new Uint8Array(G);
    }
    for (let d = 0; d < D; d++) {
      const dj = kept[d0 + d]!;
      for (let p = 0; p < G; p++) {
        const gj = gtOrder[g0 + p]!;
        ious[d * G + p] = cocoBoxIou(dBoxes, dj, gBoxes, gj, annCrowd[gj] !== 0);
      }
    }

    for (let a = 0; a < A; a++) {
      // Order ground truth: non-ignored first, then ignored, each in file order (stable argsort).
      let q = 0;
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < G; p++) {
          const gj = gtOrder[g0 + p]!;
          const area = annArea[gj]!;
          const ignored = annCrowd[gj] !== 0 || (honorIgnore && annIgnoreField[gj] !== 0) || area < aMin[a]! || area > aMax[a]!;
          if ((pass === 0) === ignored) continue;
          gOrd[q] = p;
          gIg[q] = ignored ? 1 : 0;
          gCrowd[q] = annCrowd[gj]!;
          // pycocotools stores the matched gt id and reads 0 as "unmatched" (quirk kept).
          gIdZero[q] = annId[gj] === 0 ? 1 : 0;
          q++;
        }
      }
      for (let t = 0; t < T; t++) {
        gUsed.fill(0, 0, G);
        const th = thr[t]!;
        for (let d = 0; d < D; d++) {
          let best = th;
          let m = -1;
          const row = d * G;
          for (let q2 = 0; q2 < G; q2++) {
            if (gUsed[q2] && !gCrowd[q2]) continue;
            if (m > -1 && gIg[m] === 0 && gIg[q2] === 1) break;
            const v = ious[row + gOrd[q2]!]!;
            if (v < best) continue;
            best = v;
            m = q2;
          }
          let st: number;
          if (m === -1) st = dOut[d * A + a]!;
          else {
            gUsed[m] = 1;
            if (gIg[m]) st = IGNORED;
            else if (gIdZero[m]) st = dOut[d * A + a]!;
            else st = TP;
          }
          status[(d0 + d) * SLOTS + a * T + t] = st;
        }
      }
    }
  }
  return { status, npig };
}
