// Does LA's test-time reweighting change what a model detects? Compares the
// detections of one model with LA on and with LA off (model.test.labelAware
// false: x_new = x), image by image.
//
// A detection is "unchanged" when the other run has a detection on the same
// image with the same class and a box IoU ≥ 0.99 (greedy, by descending score).
// Scores of unchanged pairs are compared separately.
import { cocoBoxIou, type CocoDetection } from '../eval/index.js';

export const UNCHANGED_IOU = 0.99;

export interface DetectionChanges {
  /** Detections with LA on / off. */
  detectionsOn: number;
  detectionsOff: number;
  /** Detections without an unchanged partner, on either side. */
  changed: number;
  /** changed / (detectionsOn + detectionsOff); 0 when both are empty. */
  changedFraction: number;
  /** Images where the two lists differ in anything (count, class, box > 1e-3 px, score > 1e-6). */
  imagesDiffering: number;
  images: number;
  /** Largest and mean |score_on − score_off| over unchanged pairs. */
  maxScoreChange: number;
  meanScoreChange: number;
}

function byImage(dets: readonly CocoDetection[]): Map<number, CocoDetection[]> {
  const out = new Map<number, CocoDetection[]>();
  for (const d of dets) {
    let list = out.get(d.image_id);
    if (list === undefined) out.set(d.image_id, (list = []));
    list.push(d);
  }
  for (const list of out.values()) list.sort((a, b) => b.score - a.score);
  return out;
}

function identical(a: readonly CocoDetection[], b: readonly CocoDetection[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((d, i) => {
    const e = b[i]!;
    return d.category_id === e.category_id && Math.abs(d.score - e.score) <= 1e-6 && d.bbox.every((v, k) => Math.abs(v - e.bbox[k]!) <= 1e-3);
  });
}

/** How the detections `on` (LA on) and `off` (LA off) of one model on the same images differ. */
export function compareDetections(on: readonly CocoDetection[], off: readonly CocoDetection[], imageIds: readonly number[]): DetectionChanges {
  const onBy = byImage(on);
  const offBy = byImage(off);
  let changed = 0;
  let imagesDiffering = 0;
  let maxScoreChange = 0;
  let sumScoreChange = 0;
  let pairs = 0;
  const box = new Float64Array(8);
  for (const id of imageIds) {
    const a = onBy.get(id) ?? [];
    const b = offBy.get(id) ?? [];
    if (!identical(a, b)) imagesDiffering++;
    const taken = new Uint8Array(b.length);
    let matched = 0;
    for (const d of a) {
      box.set(d.bbox.slice(0, 4), 0);
      let best = -1;
      let bestIou = UNCHANGED_IOU;
      b.forEach((e, j) => {
        if (taken[j] || e.category_id !== d.category_id) return;
        box.set(e.bbox.slice(0, 4), 4);
        const iou = cocoBoxIou(box, 0, box, 1, false);
        if (iou >= bestIou) {
          bestIou = iou;
          best = j;
        }
      });
      if (best < 0) continue;
      taken[best] = 1;
      matched++;
      const change = Math.abs(d.score - b[best]!.score);
      maxScoreChange = Math.max(maxScoreChange, change);
      sumScoreChange += change;
      pairs++;
    }
    changed += a.length - matched + (b.length - matched);
  }
  const total = on.length + off.length;
  return {
    detectionsOn: on.length,
    detectionsOff: off.length,
    changed,
    changedFraction: total > 0 ? changed / total : 0,
    imagesDiffering,
    images: imageIds.length,
    maxScoreChange,
    meanScoreChange: pairs > 0 ? sumScoreChange / pairs : 0,
  };
}
