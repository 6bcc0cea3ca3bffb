// Public face of laxray's COCO evaluation: bbox metrics identical to
// pycocotools' COCOeval (same numbers to the last bit on the reference cases),
// per-class AP, OPIXray-style per-class AP50, and subsets of images.
//
//   import { evaluateCoco, evaluateCocoFiles, formatReport } from './eval/index.js';
//   const r = evaluateCoco(groundTruthJson, resultsJson, { imageIds: challengingIds });
//   r.stats.AP; r.stats.AP50; r.perClass[0].AP; r.perClassAP50; r.mAP50;
//   const f = await evaluateCocoFiles('val.json', 'results.json');
//   console.log(formatReport(f));
//
// For evaluation after every epoch, index the ground truth once
// (indexGroundTruth) and pass the indexed form; detections may be given as
// columns (RawDetections: typed arrays of image ids, category ids, boxes,
// scores) instead of objects.
//
// Semantics are pycocotools' (2.0.x) including its quirks: the annotation's
// `ignore` field has no effect (honorIgnoreFlag opts in), a ground-truth id of 0
// turns its match into a false positive, repeated image entries collapse into
// one, boxes with negative sizes are kept (they match nothing). Inputs that
// pycocotools would crash on or silently mis-read (missing fields, unknown
// image or category ids, duplicate annotation ids, non-finite numbers) are
// errors listing every problem.
export { evaluateCoco, type EvaluateOptions, type CocoEvalResult, type PerClassResult, type ClassAP50 } from './evaluate.js';
export { evaluateCocoFiles, loadGroundTruthFile, loadDetectionsFile, type EvaluateFilesOptions } from './files.js';
export { indexGroundTruth, detectionsFromJson, indexDetections, resolveImageIds } from './validate.js';
export { formatReport, formatCocoSummary, formatPerClassTable, formatAP50Table, resultToJson } from './format_report.js';
export { STAT_NAMES, STAT_SPECS, type CocoStats, type StatName } from './summarize.js';
export { IOU_THRESHOLDS, RECALL_THRESHOLDS, AREA_RANGES, MAX_DETS, type AreaRange, type AreaRangeLabel } from './params.js';
export { cocoBoxIou } from './iou.js';
export type { Accumulated } from './accumulate.js';
export type { MatchOptions } from './match.js';
export type {
  CocoGroundTruth,
  CocoAnnotation,
  CocoDetection,
  IndexedGroundTruth,
  IndexedDetections,
  RawDetections,
} from './types.js';
