// The class confusion matrix of a detector on a test set. LA is about
// misleading classes (eq. 5: w2 from the most likely *wrong* class), so the
// study counts, for every object, which class wins it.
//
// Rule, per non-crowd ground-truth box g of class c, among the detections on
// g's image whose IoU with g is ≥ iouThreshold (0.5), of any class (all that the
// model returns: score ≥ model.test.scoreThreshold, at most 100 per image):
//   - none                                   → "missed"
//   - the best-scoring one of another class c′
//     scores higher than every one of class c → confused as c′
//   - otherwise (a class-c detection scores
//     highest; ties go to c)                  → correct (the diagonal)
// Rows are ground-truth classes, columns the winning class, plus "missed".
// Matching is not one-to-one: one detection may win several overlapping boxes.
import { LaxrayError } from '../errors.js';
import { cocoBoxIou, type CocoDetection, type CocoGroundTruth } from '../eval/index.js';

export const CONFUSION_RULE =
  'For each ground-truth box of class c, take the detections on its image with IoU ≥ 0.5 to it, of any class (every detection the model returns: score ≥ 0.05, ≤ 100 per image). ' +
  'If there are none, the box is "missed"; if the highest-scoring one of another class c′ scores higher than every detection of class c, the box counts as c confused for c′; otherwise it is correct (ties count as correct). ' +
  'Rows: true class; columns: winning class, then missed. A detection may count for several overlapping boxes.';

export interface ConfusionMatrix {
  /** Class names by row/column (COCO categories sorted by id). */
  classes: string[];
  /** counts[row][col]: row = true class, col = winning class (0..K−1) or K = missed. */
  counts: number[][];
}

export interface ConfusionOptions {
  iouThreshold?: number;
  /** Only these images (e.g. the challenging subset). Default: all images of the ground truth. */
  imageIds?: readonly number[];
}

/** The confusion matrix of `detections` against `groundTruth` (see the rule above). */
export function confusionMatrix(groundTruth: CocoGroundTruth, detections: readonly CocoDetection[], options: ConfusionOptions = {}): ConfusionMatrix {
  const iouThreshold = options.iouThreshold ?? 0.5;
  if (!(iouThreshold > 0 && iouThreshold <= 1)) throw new LaxrayError('INVALID_ARGUMENT', `confusion iouThreshold must be in (0, 1], got ${iouThreshold}`);
  const categories = [...groundTruth.categories].sort((a, b) => a.id - b.id);
  const column = new Map(categories.map((c, i) => [c.id, i]));
  const K = categories.length;
  const counts = categories.map(() => new Array<number>(K + 1).fill(0));
  const wanted = options.imageIds === undefined ? null : new Set(options.imageIds);

  const detsByImage = new Map<number, CocoDetection[]>();
  for (const d of detections) {
    if (wanted !== null && !wanted.has(d.image_id)) continue;
    if (!column.has(d.category_id)) throw new LaxrayError('INVALID_DETECTIONS', `detection on image ${d.image_id} has category_id ${d.category_id}, which the ground truth does not define`);
    let list = detsByImage.get(d.image_id);
    if (list === undefined) detsByImage.set(d.image_id, (list = []));
    list.push(d);
  }
  const gBox = new Float64Array(4);
  const dBox = new Float64Array(4);
  for (const g of groundTruth.annotations) {
    if (g.iscrowd === 1 || g.iscrowd === true) continue;
    if (wanted !== null && !wanted.has(g.image_id)) continue;
    const row = column.get(g.category_id);
    if (row === undefined) throw new LaxrayError('INVALID_DATASET', `annotation ${g.id} has category_id ${g.category_id}, which the ground truth does not define`);
    gBox.set(g.bbox.slice(0, 4));
    let bestOwn = -Infinity;
    let bestOther = -Infinity;
    let otherClass = -1;
    for (const d of detsByImage.get(g.image_id) ?? []) {
      dBox.set(d.bbox.slice(0, 4));
      if (cocoBoxIou(dBox, 0, gBox, 0, false) < iouThreshold) continue;
      const col = column.get(d.category_id)!;
      if (col === row) bestOwn = Math.max(bestOwn, d.score);
      else if (d.score > bestOther) {
        bestOther = d.score;
        otherClass = col;
      }
    }
    if (bestOwn === -Infinity && otherClass < 0) counts[row]![K]!++;
    else if (otherClass >= 0 && bestOther > bestOwn) counts[row]![otherClass]!++;
    else counts[row]![row]!++;
  }
  return { classes: categories.map((c) => c.name ?? String(c.id)), counts };
}

/** Element-wise sum of matrices over the same classes (e.g. the seeds of one method). */
export function addConfusion(matrices: readonly ConfusionMatrix[]): ConfusionMatrix {
  if (matrices.length === 0) throw new LaxrayError('INVALID_ARGUMENT', 'addConfusion needs at least one matrix');
  const first = matrices[0]!;
  for (const m of matrices) {
    if (m.classes.join('\n') !== first.classes.join('\n')) throw new LaxrayError('INVALID_ARGUMENT', 'confusion matrices over different classes cannot be added');
  }
  return { classes: [...first.classes], counts: first.counts.map((row, i) => row.map((_, j) => matrices.reduce((a, m) => a + m.counts[i]![j]!, 0))) };
}

export interface ConfusionSummary {
  /** Ground-truth boxes counted. */
  objects: number;
  correct: number;
  missed: number;
  /** Boxes won by another class, in total and where both classes are in the same group (look-alikes). */
  confused: number;
  confusedWithinGroup: number;
  /** Fractions of `objects`. */
  correctRate: number;
  confusedRate: number;
  confusedWithinGroupRate: number;
  missedRate: number;
}

/**
 * Totals of a matrix. `groups` maps a class name to its group (e.g. cutter or
 * liquid container); a confusion between two classes of one group counts as
 * within-group (look-alike).
 */
export function summarizeConfusion(m: ConfusionMatrix, groups: ReadonlyMap<string, string> = new Map()): ConfusionSummary {
  const K = m.classes.length;
  let objects = 0;
  let correct = 0;
  let missed = 0;
  let confused = 0;
  let within = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= K; j++) {
      const v = m.counts[i]![j]!;
      objects += v;
      if (j === K) missed += v;
      else if (j === i) correct += v;
      else {
        confused += v;
        const gi = groups.get(m.classes[i]!);
        if (gi !== undefined && gi === groups.get(m.classes[j]!)) within += v;
      }
    }
  }
  const rate = (v: number) => (objects > 0 ? v / objects : Number.NaN);
  return {
    objects,
    correct,
    missed,
    confused,
    confusedWithinGroup: within,
    correctRate: rate(correct),
    confusedRate: rate(confused),
    confusedWithinGroupRate: rate(within),
    missedRate: rate(missed),
  };
}

/** The off-diagonal cells by count, largest first: [true class, winning class, count]. */
export function topConfusions(m: ConfusionMatrix, limit = 10): { truth: string; predicted: string; count: number }[] {
  const cells: { truth: string; predicted: string; count: number }[] = [];
  m.counts.forEach((row, i) =>
    row.forEach((v, j) => {
      if (j < m.classes.length && j !== i && v > 0) cells.push({ truth: m.classes[i]!, predicted: m.classes[j]!, count: v });
    }),
  );
  return cells.sort((a, b) => b.count - a.count || a.truth.localeCompare(b.truth) || a.predicted.localeCompare(b.predicted)).slice(0, limit);
}
