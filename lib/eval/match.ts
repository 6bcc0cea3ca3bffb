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
  return new Matcher(gt, dets, grouping, options.honorIgnoreFlag === true).run();
}

/** Area-range bounds and IoU thresholds as flat arrays (the thresholds capped below 1, as pycocotools does). */
const AREA_MIN = Float64Array.from(AREA_RANGES, (r) => r.min);
const AREA_MAX = Float64Array.from(AREA_RANGES, (r) => r.max);
const THRESHOLDS = Float64Array.from(IOU_THRESHOLDS, (t) => Math.min(t, 1 - 1e-10));

const inRange = (area: number, a: number): boolean => !(area < AREA_MIN[a]! || area > AREA_MAX[a]!);

/**
 * One pass over every (category, image) cell. The scratch buffers live on the
 * instance and grow on demand, so a cell allocates nothing.
 */
class Matcher {
  private readonly nKept: number;
  private readonly areaMask: Uint8Array;
  private readonly row: Int32Array;
  private status: Uint8Array;
  private rows = 0;
  private readonly npig: Int32Array;
  /** Area-range bits of every detection (w·h, as loadRes sets it), in file order. */
  private readonly detMask: Uint8Array;

  // scratch, per cell: IoUs [D × G]; ground truth in matching order; candidates
  private ious = new Float64Array(1024);
  private gOrd = new Int32Array(64);
  private gIg = new Uint8Array(64);
  private gCrowd = new Uint8Array(64);
  private gIdZero = new Uint8Array(64);
  private gUsed = new Int32Array(64);
  private stamp = 0;
  private st = new Uint8Array(128 * SLOTS);
  private cand = new Int32Array(128);
  private candMax = new Float64Array(128);
  private deviates = new Uint8Array(128);

  constructor(
    private readonly gt: IndexedGroundTruth,
    private readonly dets: IndexedDetections,
    private readonly grouping: Grouping,
    private readonly honorIgnore: boolean,
  ) {
    this.nKept = grouping.kept.length;
    this.areaMask = new Uint8Array(this.nKept);
    this.row = new Int32Array(this.nKept).fill(-1);
    this.status = new Uint8Array(SLOTS * Math.max(1024, this.nKept >> 3));
    this.npig = new Int32Array(grouping.numCategories * A);
    this.detMask = new Uint8Array(dets.count);
    const box = dets.box;
    for (let j = 0; j < dets.count; j++) {
      const area = box[4 * j + 2]! * box[4 * j + 3]!;
      let mask = 0;
      for (let a = 0; a < A; a++) if (inRange(area, a)) mask |= 1 << a;
      this.detMask[j] = mask;
    }
  }

  run(): MatchResult {
    const { numImages: I, numCategories: K, gtStart, detStart, kept } = this.grouping;
    for (let key = 0; key < K * I; key++) {
      const k = Math.floor(key / I);
      const g0 = gtStart[key]!;
      const G = gtStart[key + 1]! - g0;
      this.countGroundTruth(k, g0, G);
      const d0 = detStart[key]!;
      const D = detStart[key + 1]! - d0;
      if (D === 0) continue;
      for (let d = 0; d < D; d++) this.areaMask[d0 + d] = this.detMask[kept[d0 + d]!]!;
      if (G === 0) continue; // nothing to match: every detection keeps row -1
      this.reserve(D, G);
      const nCand = this.findCandidates(d0, D, g0, G);
      if (nCand === 0) continue;
      for (let a = 0; a < A; a++) {
        this.orderGroundTruth(g0, G, a);
        for (let t = 0; t < T; t++) this.matchAtThreshold(d0, G, nCand, a, t);
      }
      this.storeRows(d0, nCand);
    }
    return { areaMask: this.areaMask, row: this.row, status: this.status.subarray(0, this.rows * SLOTS), npig: this.npig };
  }

  /** Ground truth counts toward recall even where there are no detections. */
  private countGroundTruth(k: number, g0: number, G: number): void {
    const { annCrowd, annIgnoreField, annArea } = this.gt;
    for (let p = 0; p < G; p++) {
      const j = this.grouping.gtOrder[g0 + p]!;
      if (annCrowd[j] || (this.honorIgnore && annIgnoreField[j])) continue;
      const area = annArea[j]!;
      for (let a = 0; a < A; a++) if (inRange(area, a)) this.npig[k * A + a]!++;
    }
  }

  private reserve(D: number, G: number): void {
    if (this.ious.length < D * G) this.ious = new Float64Array(D * G);
    if (this.gOrd.length < G) {
      this.gOrd = new Int32Array(G);
      this.gIg = new Uint8Array(G);
      this.gCrowd = new Uint8Array(G);
      this.gIdZero = new Uint8Array(G);
      this.gUsed = new Int32Array(G); // fresh zeros: stamps only grow
    }
    if (this.cand.length < D) {
      this.cand = new Int32Array(D);
      this.candMax = new Float64Array(D);
      this.deviates = new Uint8Array(D);
      this.st = new Uint8Array(D * SLOTS);
    }
  }

  /**
   * Fills the IoU table. A detection whose best IoU is below the lowest
   * threshold matches nothing anywhere: only the others (the candidates) take
   * part in the matching. Returns their number.
   */
  private findCandidates(d0: number, D: number, g0: number, G: number): number {
    const { kept, gtOrder } = this.grouping;
    const { ious, cand, candMax, deviates } = this;
    const { annBox, annCrowd } = this.gt;
    const dBoxes = this.dets.box;
    const lowest = THRESHOLDS[0]!;
    let nCand = 0;
    for (let d = 0; d < D; d++) {
      const dj = kept[d0 + d]!;
      let best = 0;
      for (let p = 0; p < G; p++) {
        const gj = gtOrder[g0 + p]!;
        const v = cocoBoxIou(dBoxes, dj, annBox, gj, annCrowd[gj] !== 0);
        ious[d * G + p] = v;
        if (v > best) best = v;
      }
      if (best >= lowest) {
        cand[nCand] = d;
        candMax[nCand] = best;
        deviates[nCand] = 0;
        nCand++;
      }
    }
    return nCand;
  }

  /** Ground truth for area range a: non-ignored first, then ignored, each in file order (stable argsort). */
  private orderGroundTruth(g0: number, G: number, a: number): void {
    const { annArea, annCrowd, annIgnoreField, annId } = this.gt;
    let q = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < G; p++) {
        const gj = this.grouping.gtOrder[g0 + p]!;
        const ignored = annCrowd[gj] !== 0 || (this.honorIgnore && annIgnoreField[gj] !== 0) || !inRange(annArea[gj]!, a);
        if ((pass === 0) === ignored) continue;
        this.gOrd[q] = p;
        this.gIg[q] = ignored ? 1 : 0;
        this.gCrowd[q] = annCrowd[gj]!;
        // pycocotools stores the matched gt id and reads 0 as "unmatched" (quirk kept).
        this.gIdZero[q] = annId[gj] === 0 ? 1 : 0;
        q++;
      }
    }
  }

  /** Greedy matching of the candidates (best score first) at area range a and threshold t. */
  private matchAtThreshold(d0: number, G: number, nCand: number, a: number, t: number): void {
    const { gUsed, gCrowd, gIg, gOrd, gIdZero, ious, cand, candMax, areaMask, st, deviates } = this;
    const stamp = ++this.stamp; // gUsed[q] === stamp ⇔ box q is taken at this (area range, threshold)
    const bit = 1 << a;
    const th = THRESHOLDS[t]!;
    for (let c = 0; c < nCand; c++) {
      const d = cand[c]!;
      const unmatched = areaMask[d0 + d]! & bit ? FP : IGNORED;
      let m = -1;
      if (candMax[c]! >= th) {
        let best = th;
        const rowIou = d * G;
        for (let q = 0; q < G; q++) {
          if (gUsed[q] === stamp && !gCrowd[q]) continue;
          if (m > -1 && gIg[m] === 0 && gIg[q] === 1) break;
          const v = ious[rowIou + gOrd[q]!]!;
          if (v < best) continue;
          best = v;
          m = q;
        }
      }
      let out: number;
      if (m === -1) out = unmatched;
      else {
        gUsed[m] = stamp;
        out = gIg[m] ? IGNORED : gIdZero[m] ? unmatched : TP;
      }
      st[c * SLOTS + a * T + t] = out;
      if (out !== unmatched) deviates[c] = 1;
    }
  }

  /** Candidates whose outcome differs from "matched nothing" somewhere get a status row. */
  private storeRows(d0: number, nCand: number): void {
    for (let c = 0; c < nCand; c++) {
      if (!this.deviates[c]) continue;
      if ((this.rows + 1) * SLOTS > this.status.length) {
        const grown = new Uint8Array(this.status.length * 2);
        grown.set(this.status);
        this.status = grown;
      }
      this.row[d0 + this.cand[c]!] = this.rows;
      this.status.set(this.st.subarray(c * SLOTS, (c + 1) * SLOTS), this.rows * SLOTS);
      this.rows++;
    }
  }
}
