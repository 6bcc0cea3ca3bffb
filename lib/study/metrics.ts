// The figures of one finished run, computed from its stored test detections
// with lib/eval (pycocotools' numbers): COCO stats on the whole test split and
// its challenging subset, per-class AP50, precision–recall curves, the class
// confusion matrix, and for LA models the same with LA switched off at test
// time plus how the detections changed.
import { LaxrayError } from '../errors.js';
import { readJsonFile, type JsonFileKind } from '../json_file.js';
import type { CocoDetection, CocoEvalResult, CocoGroundTruth } from '../eval/index.js';
import { evaluateDetections } from '../train/index.js';
import type { Dataset } from '../data/index.js';
import { compareDetections, type DetectionChanges } from './compare_detections.js';
import { confusionMatrix, type ConfusionMatrix } from './confusion.js';
import type { LevelWeightStats } from './la_weights.js';
import type { RunPaths, RunRecord } from './run.js';

export const HEADLINE_STATS = ['AP', 'AP50', 'AP75'] as const;
export type HeadlineStat = (typeof HEADLINE_STATS)[number];
export type Headline = Record<HeadlineStat, number>;

export interface SetMetrics {
  stats: Headline;
  /** COCO AP50 per class (null: no ground truth of that class). */
  perClassAP50: Record<string, number | null>;
  /** Interpolated precision at the 101 recall thresholds, IoU 0.5, all areas, 100 detections; null without ground truth. */
  precision50: Record<string, number[] | null>;
  confusion: ConfusionMatrix;
}

export interface RunMetrics {
  method: string;
  seed: number;
  record: RunRecord;
  detections: CocoDetection[];
  overall: SetMetrics;
  challenging: SetMetrics | null;
  /** LA models only: the same model with model.test.labelAware false. */
  laOff: {
    detections: CocoDetection[];
    overall: Headline;
    challenging: Headline | null;
    changes: DetectionChanges;
  } | null;
  laWeights: LevelWeightStats[] | null;
}

/** Precision at recall thresholds 0, .01, …, 1 for category index k, at IoU 0.5, area 'all', maxDets 100 (pycocotools' eval['precision'][0, :, k, 0, -1]). */
export function precisionAtIou50(result: CocoEvalResult, k: number): number[] | null {
  const { R, K, A, M } = result.curves.shape;
  const out: number[] = [];
  for (let r = 0; r < R; r++) out.push(result.curves.precision[((0 * R + r) * K + k) * A * M + 0 * M + (M - 1)]!);
  return out[0]! < 0 ? null : out;
}

function headline(result: CocoEvalResult): Headline {
  return { AP: result.stats.AP, AP50: result.stats.AP50, AP75: result.stats.AP75 };
}

function setMetrics(result: CocoEvalResult, groundTruth: CocoGroundTruth, detections: CocoDetection[], imageIds?: readonly number[]): SetMetrics {
  return {
    stats: headline(result),
    perClassAP50: Object.fromEntries(result.perClass.map((c) => [c.name, c.AP50])),
    precision50: Object.fromEntries(result.perClass.map((c, k) => [c.name, precisionAtIou50(result, k)])),
    confusion: confusionMatrix(groundTruth, detections, imageIds !== undefined ? { imageIds } : {}),
  };
}

/** A file the study's evaluation wrote: when it is damaged, evaluating the run again writes it anew. */
const evaluationOutput = (what: string): JsonFileKind => ({ what, code: 'IO_ERROR', hint: "delete the run's test/done.json to evaluate it again" });

/** A JSON list the study's evaluation wrote; anything else is an error saying how to write it anew. */
async function readEvaluationList<T>(file: string, what: string): Promise<T[]> {
  const kind = evaluationOutput(what);
  const list = await readJsonFile(file, kind);
  if (!Array.isArray(list)) throw new LaxrayError(kind.code, `${file} is not a list of ${what}; ${kind.hint!}`);
  return list as T[];
}

const readDetections = (file: string) => readEvaluationList<CocoDetection>(file, 'COCO detections');

/** Everything the report needs of one finished run. */
export async function runMetrics(
  paths: RunPaths,
  record: RunRecord,
  test: Dataset,
  groundTruth: CocoGroundTruth,
  challengingIds: readonly number[],
): Promise<RunMetrics> {
  const detections = await readDetections(paths.detections);
  const evaluate = (dets: CocoDetection[], imageIds?: readonly number[]) =>
    evaluateDetections(test, dets, { groundTruth, ...(imageIds !== undefined ? { imageIds } : {}) });
  const hasChallenging = challengingIds.length > 0;
  const overall = setMetrics(evaluate(detections), groundTruth, detections);
  const challenging = hasChallenging ? setMetrics(evaluate(detections, challengingIds), groundTruth, detections, challengingIds) : null;
  let laOff: RunMetrics['laOff'] = null;
  let laWeights: LevelWeightStats[] | null = null;
  if (record.files.detectionsLaOff !== null) {
    const off = await readDetections(paths.detectionsLaOff);
    laOff = {
      detections: off,
      overall: headline(evaluate(off)),
      challenging: hasChallenging ? headline(evaluate(off, challengingIds)) : null,
      changes: compareDetections(detections, off, test.images.map((im) => im.id)),
    };
  }
  if (record.files.laWeights !== null) {
    laWeights = await readEvaluationList<LevelWeightStats>(paths.laWeights, 'LA weight statistics');
  }
  return { method: record.method, seed: record.seed, record, detections, overall, challenging, laOff, laWeights };
}
