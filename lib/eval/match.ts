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
  /**
   * Per kept detection: bit a is set when its w·h lies in area range a. A
   * detection that matched nothing is FP where its bit is set and ignored
   * elsewhere, at every IoU threshold.
   */
  areaMask: Uint8Array;
  /** Per kept detection: -1 when it matched nothing (its outcome is areaMask), else its row in `status`. */
  row: Int32Array;
  /** FP / TP / IGNORED per slot (a · T + t) for the detections that matched something: status[row · SLOTS + slot]. */
  status: Uint8Array;
  /** Non-ignored ground truth per category and area range: npig[k · A + a]. */
  npig: Int32Array;
}

export function matchAll(gt: IndexedGroundTruth, dets: IndexedDetections, grouping: Grouping, options: MatchOptions = {}): MatchResult {
  const { numImages: I, numCategories: K, gtStart, gtOrder, detStart, kept } = grouping;
  const honorIgnore = options.honorIgnoreFlag === true;
  const nKept = kept.length;
  const areaMask = new Uint8Array(nKept);
  const row = new Int32Array(nKept).fill(-1);
  let status = new Uint8Array(SLOTS * Math.max(1024, nKept >> 3));
  let rows = 0;
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
  let gUsed = new Int32Array(64);
  let stamp = 0;
  let st = new Uint8Array(128 * SLOTS);
  let cand = new Int32Array(128);
  let candMax = new Float64Array(128);
  let deviates = new Uint8Array(128);

  // Area-range mask of every detection (w·h, as loadRes sets it), computed in file order.
  const detMask = new Uint8Array(dets.count);
  for (let j = 0; j < dets.count; j++) {
    const area = dBoxes[4 * j + 2]! * dBoxes[4 * j + 3]!;
    let mask = 0;
    for (let a = 0; a < A; a++) if (!(area < aMin[a]! || area > aMax[a]!)) mask |= 1 << a;
    detMask[j] = mask;
  }

  for (let key = 0, k = 0, i = 0; key < K * I; key++, i++) {
    if (i === I) {
      i = 0;
      k++;
    }
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
    for (let d = 0; d < D; d++) areaMask[d0 + d] = detMask[kept[d0 + d]!]!;
    if (G === 0) continue; // nothing to match: every detection keeps row -1

    if (ious.length < D * G) ious = new Float64Array(D * G);
    if (gOrd.length < G) {
      gOrd = new Int32Array(G);
      gIg = new Uint8Array(G);
      gCrowd = new Uint8Array(G);
      gIdZero = new Uint8Array(G);
      gUsed = new Int32Array(G); // fresh zeros: stamps only grow
    }
    if (cand.length < D) {
      cand = new Int32Array(D);
      candMax = new Float64Array(D);
      deviates = new Uint8Array(D);
      st = new Uint8Array(D * SLOTS);
    }
    // A detection whose best IoU is below the lowest threshold matches nothing anywhere:
    // only the others (the candidates) take part in the matching.
    let nCand = 0;
    for (let d = 0; d < D; d++) {
      const dj = kept[d0 + d]!;
      let best = 0;
      for (let p = 0; p < G; p++) {
        const gj = gtOrder[g0 + p]!;
        const v = cocoBoxIou(dBoxes, dj, gBoxes, gj, annCrowd[gj] !== 0);
        ious[d * G + p] = v;
        if (v > best) best = v;
      }
      if (best >= thr[0]!) {
        cand[nCand] = d;
        candMax[nCand] = best;
        nCand++;
      }
    }
    if (nCand === 0) continue;
    for (let c = 0; c < nCand; c++) deviates[c] = 0;

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
      const bit = 1 << a;
      for (let t = 0; t < T; t++) {
        stamp++; // gUsed[q] === stamp ⇔ box q is taken at this (area range, threshold)
        const th = thr[t]!;
        for (let c = 0; c < nCand; c++) {
          const d = cand[c]!;
          const unmatched = areaMask[d0 + d]! & bit ? FP : IGNORED;
          let m = -1;
          if (candMax[c]! >= th) {
            let best = th;
            const rowIou = d * G;
            for (let q2 = 0; q2 < G; q2++) {
              if (gUsed[q2] === stamp && !gCrowd[q2]) continue;
              if (m > -1 && gIg[m] === 0 && gIg[q2] === 1) break;
              const v = ious[rowIou + gOrd[q2]!]!;
              if (v < best) continue;
              best = v;
              m = q2;
            }
          }
          let out: number;
          if (m === -1) out = unmatched;
          else {
            gUsed[m] = stamp;
            if (gIg[m]) out = IGNORED;
            else if (gIdZero[m]) out = unmatched;
            else out = TP;
          }
          st[c * SLOTS + a * T + t] = out;
          if (out !== unmatched) deviates[c] = 1;
        }
      }
    }
    // Candidates whose outcome differs from "matched nothing" somewhere get a status row.
    for (let c = 0; c < nCand; c++) {
      if (!deviates[c]) continue;
      const d = cand[c]!;
      if ((rows + 1) * SLOTS > status.length) {
        const grown = new Uint8Array(status.length * 2);
        grown.set(status);
        status = grown;
      }
      row[d0 + d] = rows;
      for (let s = 0; s < SLOTS; s++) status[rows * SLOTS + s] = st[c * SLOTS + s]!;
      rows++;
    }
  }
  return { areaMask, row, status: status.subarray(0, rows * SLOTS), npig };
}
