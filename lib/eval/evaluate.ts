// COCO bbox evaluation with pycocotools' numbers: validate → group by
// (category, image) → match → accumulate → summarize, plus per-class tables.
import { LaxrayError } from '../errors.js';
import { accumulate, type Accumulated } from './accumulate.js';
import { groupByCategoryAndImage } from './group.js';
import { rankByCategory } from './sort.js';
import { matchAll, type MatchOptions } from './match.js';
import { A, AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS } from './params.js';
import { STAT_NAMES, numpyMean, summarize, summarizeCategory, type CocoStats, type StatName } from './summarize.js';
import { vocPerClassAP, type VocApMethod, type VocClassResult } from './voc.js';
import type { CocoDetection, CocoGroundTruth, IndexedDetections, IndexedGroundTruth, RawDetections } from './types.js';
import { detectionsFromJson, indexDetections, indexGroundTruth, resolveImageIds } from './validate.js';

export interface EvaluateOptions extends MatchOptions {
  /**
   * Evaluate only these images (e.g. the challenging subset): an array of image
   * ids, {"image_ids": [...]}, or a COCO object whose "images" are the subset.
   * Detections on other images are left out; categories stay those of the ground truth.
   */
  imageIds?: readonly number[] | unknown;
  /** Only 'bbox' is supported. */
  iouType?: 'bbox';
  /**
   * How the OPIXray-style per-class AP50 is computed: 'area' (area under the
   * precision envelope, as OPIXray's test.py does; default) or '11point' (VOC2007).
   */
  opixrayMethod?: VocApMethod;
  /** Names used in messages (file paths, say). */
  groundTruthSource?: string;
  detectionsSource?: string;
  imageIdsSource?: string;
}

/** Per-category results: the 12 numbers restricted to one category (null where it has no ground truth). */
export interface PerClassResult extends Record<StatName, number | null> {
  id: number;
  name: string;
  /** Non-crowd (non-ignored) ground-truth boxes of this category in the evaluated images. */
  numGroundTruth: number;
  /** Detections of this category evaluated (at most 100 per image). */
  numDetections: number;
}

/**
 * OPIXray-style entry: PASCAL VOC AP at IoU > 0.5 over all detections, as the
 * OPIXray benchmark computes it (see voc.ts). perClass[].AP50 is COCO's AP50.
 */
export type ClassAP50 = VocClassResult;

export interface CocoEvalResult {
  /** The 12 pycocotools numbers by name (-1 where pycocotools prints -1). */
  stats: CocoStats;
  /** The same numbers in pycocotools' order (`stats` of COCOeval). */
  statsArray: number[];
  statsOrder: StatName[];
  perClass: PerClassResult[];
  /** OPIXray-style per-class AP at IoU 0.5 (PASCAL VOC evaluation, as OPIXray's benchmark code) ... */
  perClassAP50: ClassAP50[];
  /** ... and their mean over the classes that have ground truth (OPIXray's "mAP"; null if none). */
  mAP50: number | null;
  counts: {
    images: number;
    categories: number;
    /** Non-crowd ground-truth boxes in the evaluated images. */
    groundTruth: number;
    /** Crowd (ignored) ground-truth regions in the evaluated images. */
    crowd: number;
    /** Detections on the evaluated images, after the 100-per-image-and-category cut. */
    detections: number;
    /** Detections given. */
    detectionsGiven: number;
  };
  /** Oddities in the inputs that were tolerated, as pycocotools tolerates them. */
  warnings: string[];
  /** The evaluated image ids when restricted to a subset, else null. */
  imageIds: number[] | null;
  params: {
    iouThresholds: number[];
    recallThresholds: number[];
    areaRanges: { label: string; min: number; max: number }[];
    maxDets: number[];
    honorIgnoreFlag: boolean;
    opixrayMethod: VocApMethod;
  };
  /** pycocotools' eval['precision'|'recall'|'scores'] arrays ([T,R,K,A,M] / [T,K,A,M]). */
  curves: Accumulated;
  /** Milliseconds spent per stage. */
  timings: { validate: number; group: number; match: number; accumulate: number; summarize: number; opixray: number };
}

function isIndexedGroundTruth(v: unknown): v is IndexedGroundTruth {
  return typeof v === 'object' && v !== null && (v as IndexedGroundTruth).annBox instanceof Float64Array && (v as IndexedGroundTruth).imageIndex instanceof Map;
}

function isRawDetections(v: unknown): v is RawDetections {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as RawDetections).box instanceof Float64Array && (v as RawDetections).imageId instanceof Float64Array;
}

function isIndexedDetections(v: unknown): v is IndexedDetections {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as IndexedDetections).box instanceof Float64Array && (v as IndexedDetections).image instanceof Int32Array;
}

/**
 * Evaluates COCO detections against COCO ground truth with pycocotools'
 * semantics (iouType 'bbox'). Inputs are the parsed JSON (or the indexed forms
 * from indexGroundTruth / detectionsFromJson / indexDetections). Throws
 * LaxrayError INVALID_DATASET / INVALID_DETECTIONS / INVALID_ARGUMENT listing
 * every problem found.
 */
export function evaluateCoco(
  groundTruth: CocoGroundTruth | IndexedGroundTruth | unknown,
  detections: CocoDetection[] | RawDetections | IndexedDetections | unknown,
  options: EvaluateOptions = {},
): CocoEvalResult {
  if (options.iouType !== undefined && options.iouType !== 'bbox') {
    throw new LaxrayError('INVALID_ARGUMENT', `iouType "${String(options.iouType)}" is not supported; laxray evaluates boxes: use iouType "bbox"`);
  }
  if (options.opixrayMethod !== undefined && options.opixrayMethod !== 'area' && options.opixrayMethod !== '11point') {
    throw new LaxrayError('INVALID_ARGUMENT', `opixrayMethod must be "area" (OPIXray's code) or "11point" (VOC2007), got "${String(options.opixrayMethod)}"`);
  }
  const t0 = performance.now();
  const gt = isIndexedGroundTruth(groundTruth) ? groundTruth : indexGroundTruth(groundTruth, { source: options.groundTruthSource ?? 'ground truth' });
  const detSource = options.detectionsSource ?? 'detections';
  const dets = isIndexedDetections(detections)
    ? detections
    : indexDetections(isRawDetections(detections) ? detections : detectionsFromJson(detections, { source: detSource }), gt, { source: detSource });
  const subset = options.imageIds === undefined ? undefined : resolveImageIds(options.imageIds, gt, options.imageIdsSource ?? 'imageIds');
  const t1 = performance.now();
  const maxDet = MAX_DETS[MAX_DETS.length - 1]!;
  const grouping = groupByCategoryAndImage(gt, dets, subset, maxDet);
  const t2 = performance.now();
  const match = matchAll(gt, dets, grouping, options);
  const t3 = performance.now();
  const ranking = rankByCategory(grouping.detStart, grouping.numImages, grouping.numCategories, grouping.score);
  const acc = accumulate(grouping, match, ranking);
  const t4 = performance.now();
  const stats = summarize(acc);

  const K = grouping.numCategories;
  const I = grouping.numImages;
  const perClass: PerClassResult[] = [];
  for (let k = 0; k < K; k++) {
    perClass.push({
      id: gt.categoryIds[k]!,
      name: gt.categoryNames[k]!,
      numGroundTruth: match.npig[k * A]!,
      numDetections: grouping.detStart[(k + 1) * I]! - grouping.detStart[k * I]!,
      ...summarizeCategory(acc, k),
    });
  }
  const t5 = performance.now();
  // OPIXray-style AP50 looks at every detection: regroup without the 100-per-image cut if it dropped any.
  const opixrayMethod = options.opixrayMethod ?? 'area';
  const uncapped = grouping.kept.length === grouping.available ? grouping : groupByCategoryAndImage(gt, dets, subset, Infinity);
  const perClassAP50 = vocPerClassAP(gt, dets, uncapped, {
    method: opixrayMethod,
    honorIgnoreFlag: options.honorIgnoreFlag === true,
    ranking: uncapped === grouping ? ranking : undefined,
  });
  const defined = Float64Array.from(perClassAP50.filter((c) => c.AP50 !== null), (c) => c.AP50!);
  const mAP50 = defined.length === 0 ? null : numpyMean(defined, defined.length);

  let crowd = 0;
  for (let j = 0; j < grouping.gtOrder.length; j++) crowd += gt.annCrowd[grouping.gtOrder[j]!]!;
  let groundTruthCount = 0;
  for (let k = 0; k < K; k++) groundTruthCount += match.npig[k * A]!;
  const t6 = performance.now();
  return {
    stats,
    statsArray: STAT_NAMES.map((n) => stats[n]),
    statsOrder: [...STAT_NAMES],
    perClass,
    perClassAP50,
    mAP50,
    counts: {
      images: I,
      categories: K,
      groundTruth: groundTruthCount,
      crowd,
      detections: grouping.kept.length,
      detectionsGiven: dets.count,
    },
    warnings: [...gt.warnings, ...dets.warnings],
    imageIds: subset === undefined ? null : Array.from(subset, (i) => gt.imageIds[i]!),
    params: {
      iouThresholds: Array.from(IOU_THRESHOLDS),
      recallThresholds: Array.from(RECALL_THRESHOLDS),
      areaRanges: AREA_RANGES.map((r) => ({ ...r })),
      maxDets: [...MAX_DETS],
      honorIgnoreFlag: options.honorIgnoreFlag === true,
      opixrayMethod,
    },
    curves: acc,
    timings: { validate: t1 - t0, group: t2 - t1, match: t3 - t2, accumulate: t4 - t3, summarize: t5 - t4, opixray: t6 - t5 },
  };
}
