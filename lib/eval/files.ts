// Evaluation from files: a COCO ground-truth JSON and a COCO results JSON
// (optionally an image-id list), read and validated with messages that name
// the files.
import { LaxrayError } from '../errors.js';
import { readError, readJsonFile, type JsonFileKind } from '../json_file.js';
import { evaluateCoco, type CocoEvalResult, type EvaluateOptions } from './evaluate.js';
import { readResultsFileFast } from './parse-results.js';
import type { IndexedGroundTruth, RawDetections } from './types.js';
import { detectionsFromJson, indexDetections, indexGroundTruth } from './validate.js';

const GROUND_TRUTH: JsonFileKind = { what: 'ground-truth', code: 'INVALID_DATASET' };
const DETECTIONS: JsonFileKind = { what: 'detections', code: 'INVALID_DETECTIONS' };
const IMAGE_IDS: JsonFileKind = { what: 'image-ids', code: 'INVALID_ARGUMENT' };

/** Reads and validates a COCO ground-truth file. */
export async function loadGroundTruthFile(file: string): Promise<IndexedGroundTruth> {
  return indexGroundTruth(await readJsonFile(file, GROUND_TRUTH), { source: file });
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
    throw readError(file, DETECTIONS, err);
  }
  if (fast !== null) return fast;
  return detectionsFromJson(await readJsonFile(file, DETECTIONS), { source: file });
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
  // read in parallel; when several files are bad, the error names the first in argument order (not the fastest to fail)
  const settled = await Promise.allSettled([
    loadGroundTruthFile(groundTruthFile),
    loadDetectionsFile(detectionsFile),
    options.imageIdsFile === undefined ? Promise.resolve(options.imageIds) : readJsonFile(options.imageIdsFile, IMAGE_IDS),
  ] as const);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  const [gt, raw, imageIds] = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [Awaited<ReturnType<typeof loadGroundTruthFile>>, Awaited<ReturnType<typeof loadDetectionsFile>>, unknown];
  const dets = indexDetections(raw, gt, { source: detectionsFile });
  const read = performance.now() - t0;
  const { imageIdsFile, ...rest } = options;
  const result = evaluateCoco(gt, dets, { ...rest, imageIds, imageIdsSource: imageIdsFile ?? 'imageIds' });
  return { ...result, timings: { ...result.timings, read } };
}
