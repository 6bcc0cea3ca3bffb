// Groups ground truth and detections by (category, image) — pycocotools'
// `_gts[imgId, catId]` / `_dts[imgId, catId]` — in the orders pycocotools uses:
// ground truth in file order; detections stably sorted by descending score
// (np.argsort(-score, kind='mergesort')) and cut to the largest maxDets.
//
// Groups are numbered key = k · I + i (category k, i-th evaluated image), so
// one category's detections are contiguous and in the order accumulate()
// concatenates them: images by ascending id, then by rank within the image.
import type { IndexedDetections, IndexedGroundTruth } from './types.js';

export interface Grouping {
  /** Number of evaluated images (I) and categories (K). */
  numImages: number;
  numCategories: number;
  /** Ground-truth image index of each evaluated image, ascending. */
  images: Int32Array;
  /** CSR over keys: annotations of group key are gtOrder[gtStart[key] .. gtStart[key + 1]). */
  gtStart: Int32Array;
  gtOrder: Int32Array;
  /** CSR over keys for the kept detections (≤ maxDet per group, best score first). */
  detStart: Int32Array;
  /** Detection index (into IndexedDetections) of each kept detection. */
  kept: Int32Array;
  /** Rank of each kept detection within its group (0 = best score). */
  rank: Int32Array;
  /** Score of each kept detection. */
  score: Float64Array;
  /** Detections on the evaluated images before the maxDet cut. */
  available: number;
}

/**
 * @param imageSubset ground-truth image indices to evaluate (sorted, unique); all images when omitted.
 * @param maxDet the largest maxDets value: detections ranked beyond it in their group are dropped.
 */
export function groupByCategoryAndImage(
  gt: IndexedGroundTruth,
  dets: IndexedDetections,
  imageSubset: Int32Array | undefined,
  maxDet: number,
): Grouping {
  const totalImages = gt.imageIds.length;
  const K = gt.categoryIds.length;
  const images = imageSubset ?? Int32Array.from({ length: totalImages }, (_, i) => i);
  const I = images.length;
  // Position of each ground-truth image among the evaluated ones, or -1.
  const imagePos = new Int32Array(totalImages).fill(-1);
  for (let i = 0; i < I; i++) imagePos[images[i]!] = i;
  const numKeys = K * I;

  // Ground truth: counting sort by key, stable (file order within a group).
  const gtStart = new Int32Array(numKeys + 1);
  const gtKey = new Int32Array(gt.count);
  for (let j = 0; j < gt.count; j++) {
    const pos = imagePos[gt.annImage[j]!]!;
    const key = pos < 0 ? -1 : gt.annCategory[j]! * I + pos;
    gtKey[j] = key;
    if (key >= 0) gtStart[key + 1]!++;
  }
  for (let key = 0; key < numKeys; key++) gtStart[key + 1]! += gtStart[key]!;
  const gtOrder = new Int32Array(gtStart[numKeys]!);
  {
    const fill = gtStart.slice(0, numKeys);
    for (let j = 0; j < gt.count; j++) {
      const key = gtKey[j]!;
      if (key >= 0) gtOrder[fill[key]!++] = j;
    }
  }

  // Detections: counting sort by key (stable), then a stable sort by score within each group.
  const n = dets.count;
  const allStart = new Int32Array(numKeys + 1);
  const detKey = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const pos = imagePos[dets.image[j]!]!;
    const key = pos < 0 ? -1 : dets.category[j]! * I + pos;
    detKey[j] = key;
    if (key >= 0) allStart[key + 1]!++;
  }
  for (let key = 0; key < numKeys; key++) allStart[key + 1]! += allStart[key]!;
  const byKey = new Int32Array(allStart[numKeys]!);
  {
    const fill = allStart.slice(0, numKeys);
    for (let j = 0; j < n; j++) {
      const key = detKey[j]!;
      if (key >= 0) byKey[fill[key]!++] = j;
    }
  }
  const detScore = dets.score;
  const detStart = new Int32Array(numKeys + 1);
  let keptCount = 0;
  for (let key = 0; key < numKeys; key++) keptCount += Math.min(maxDet, allStart[key + 1]! - allStart[key]!);
  const kept = new Int32Array(keptCount);
  const rank = new Int32Array(keptCount);
  const score = new Float64Array(keptCount);
  let out = 0;
  let scratch = new Int32Array(256);
  for (let key = 0; key < numKeys; key++) {
    detStart[key] = out;
    const s = allStart[key]!;
    const len = allStart[key + 1]! - s;
    if (len === 0) continue;
    if (scratch.length < len) scratch = new Int32Array(len);
    for (let r = 0; r < len; r++) scratch[r] = byKey[s + r]!;
    stableSortByScoreDesc(scratch, len, detScore);
    const take = Math.min(maxDet, len);
    for (let r = 0; r < take; r++) {
      const j = scratch[r]!;
      kept[out] = j;
      rank[out] = r;
      score[out] = detScore[j]!;
      out++;
    }
  }
  detStart[numKeys] = out;
  return { numImages: I, numCategories: K, images, gtStart, gtOrder, detStart, kept, rank, score, available: byKey.length };
}

/**
 * Sorts idx[0..n) by descending score; equal scores keep their order (what a
 * stable mergesort of -score does). Insertion sort for the usual short groups.
 */
export function stableSortByScoreDesc(idx: Int32Array, n: number, score: Float64Array): void {
  if (n <= 48) {
    for (let i = 1; i < n; i++) {
      const v = idx[i]!;
      const sv = score[v]!;
      let j = i - 1;
      while (j >= 0 && score[idx[j]!]! < sv) {
        idx[j + 1] = idx[j]!;
        j--;
      }
      idx[j + 1] = v;
    }
    return;
  }
  // Tie-break on the original position so the result does not depend on the sort's own stability.
  const values = Array.from(idx.subarray(0, n));
  const order = Array.from(values.keys());
  order.sort((a, b) => {
    const sa = score[values[a]!]!;
    const sb = score[values[b]!]!;
    return sa > sb ? -1 : sa < sb ? 1 : a - b;
  });
  for (let i = 0; i < n; i++) idx[i] = values[order[i]!]!;
}
