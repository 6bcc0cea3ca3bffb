// Evaluation from files: a COCO ground-truth JSON and a COCO results JSON
// (optionally an image-id list), read and validated with messages that name
// the files.
import { LaxrayError } from '../errors.js';
import { evaluateCoco, type CocoEvalResult, type EvaluateOptions } from './evaluate.js';
import { readResultsFileFast } from './parse-results.js';
import { ioError, jsonText, parseJson, readInputFile, readJsonFile } from './read.js';
import type { IndexedGroundTruth, RawDetections } from './types.js';
import { detectionsFromJson, indexDetections, indexGroundTruth } from './validate.js';

/** Reads and validates a COCO ground-truth file. */
export async function loadGroundTruthFile(file: string): Promise<IndexedGroundTruth> {
  return indexGroundTruth(await readJsonFile(file, 'ground-truth', 'INVALID_DATASET'), { source: file });
}

/**
 * Reads a COCO results file into columns (not yet checked against a ground
 * truth). Plain results files are streamed through a fast byte-level reader;
 * anything else goes through JSON.parse, with the same numbers.
 */
export async function loadDetectionsFile(file: string): Promise<RawDetections> {
  let fast: RawDetections | null;
  try {
    fast = readResultsFileFast(file);
  } catch (err) {
    throw ioError(file, 'detections', err);
  }
  if (fast !== null) return fast;
  const bytes = await readInputFile(file, 'detections');
  return detectionsFromJson(parseJson(jsonText(bytes), file, 'detections', 'INVALID_DETECTIONS'), { source: file });
}

export interface EvaluateFilesOptions extends Omit<EvaluateOptions, 'groundTruthSource' | 'detectionsSource' | 'imageIdsSource'> {
  /** A JSON file with the image ids to evaluate (see EvaluateOptions.imageIds for the accepted forms). */
  imageIdsFile?: string;
}

/** evaluateCoco on files; `timings.read` is the time spent reading and parsing them. */
export async function evaluateCocoFiles(
  groundTruthFile: string,
  detectionsFile: string,
  options: EvaluateFilesOptions = {},
): Promise<CocoEvalResult & { timings: CocoEvalResult['timings'] & { read: number } }> {
  if (options.imageIdsFile !== undefined && options.imageIds !== undefined) {
    throw new LaxrayError('INVALID_ARGUMENT', 'give the image ids either as a file (imageIdsFile) or as a list (imageIds), not both');
  }
  const t0 = performance.now();
  const [gt, raw, imageIds] = await Promise.all([
    loadGroundTruthFile(groundTruthFile),
    loadDetectionsFile(detectionsFile),
    options.imageIdsFile === undefined ? Promise.resolve(options.imageIds) : readJsonFile(options.imageIdsFile, 'image-ids', 'INVALID_ARGUMENT'),
  ]);
  const dets = indexDetections(raw, gt, { source: detectionsFile });
  const read = performance.now() - t0;
  const { imageIdsFile, ...rest } = options;
  const result = evaluateCoco(gt, dets, { ...rest, imageIds, imageIdsSource: imageIdsFile ?? 'imageIds' });
  return { ...result, timings: { ...result.timings, read } };
}
