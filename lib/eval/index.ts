// Public face of laxray's COCO evaluation (pycocotools-identical bbox metrics).
export { evaluateCoco, type EvaluateOptions, type CocoEvalResult, type PerClassResult, type ClassAP50 } from './evaluate.js';
export { evaluateCocoFiles, loadGroundTruthFile, loadDetectionsFile, type EvaluateFilesOptions } from './files.js';
export { indexGroundTruth, detectionsFromJson, indexDetections, resolveImageIds } from './validate.js';
export { formatReport, formatSummary, formatPerClassTable, formatAP50Table, resultToJson } from './table.js';
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
