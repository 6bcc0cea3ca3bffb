// Evaluation of a detector on a Dataset: detect in batches with the inference
// pipeline (no flips, no shuffling), turn detections into COCO results and
// score them with lib/eval (pycocotools-identical numbers), on all images and
// on the challenging subset when the dataset marks one.
import { LaxrayError } from '../errors.js';
import { evaluationLoader, subsetDataset, type Batch, type Dataset } from '../data/index.js';
import { DEFAULT_CHALLENGING, isChallenging, type ChallengingOptions } from '../data/synth/challenging.js';
import { readChallengingThresholds } from '../data/synth/manifest.js';
import { evaluateCoco, type CocoDetection, type CocoEvalResult, type CocoGroundTruth } from '../eval/index.js';
import type { LaxrayConfig } from '../config/index.js';
import type { Detection } from '../detector.js';

/** What evaluation needs of a detector: its config (the input pipeline, class count) and batch detection. */
export interface DetectingModel {
  readonly config: LaxrayConfig;
  detect(input: Batch): Promise<Detection[][]>;
}

export interface DetectDatasetOptions {
  /** Only these images (e.g. the challenging subset). Default: every image of the dataset. */
  imageIds?: readonly number[];
  /** Images per forward pass. Default config.train.batchSize. */
  batchSize?: number;
  /** Decode worker threads. Default config.data.workers. */
  workers?: number;
  /** Called after each batch with the images done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface DatasetDetections {
  /** COCO results (bbox [x, y, w, h] in original image pixels, COCO category ids). */
  results: CocoDetection[];
  /** The detector's output per image id. */
  byImage: Map<number, Detection[]>;
  /** Images processed. */
  images: number;
  seconds: number;
}

export interface EvaluateDetectorOptions extends DetectDatasetOptions {
  /**
   * Also score the challenging subset (paper Table VIII) when the dataset marks
   * one (annotations with `overlap` / `background_similarity`, as lib/data/synth
   * writes them). Default true. Ignored when `imageIds` is given.
   */
  challenging?: boolean | ChallengingOptions;
}

export interface Evaluation {
  /** Every image (or `imageIds`). */
  overall: CocoEvalResult;
  /** The challenging subset, when the dataset marks one and it is not empty. */
  challenging: CocoEvalResult | null;
  /** Image ids of the challenging subset (empty when none). */
  challengingImageIds: number[];
  detections: DatasetDetections;
}

/** Checks that a detector's classes line up with a dataset's categories (by count; names when both have them). */
export function checkClasses(config: LaxrayConfig, dataset: Dataset, what: string): void {
  const numClasses = config.model.head.numClasses;
  if (numClasses !== dataset.numClasses) {
    throw new LaxrayError(
      'INVALID_CONFIG',
      `model.head.numClasses is ${numClasses} but ${what} ${dataset.source ?? ''} has ${dataset.numClasses} categories ` +
        `(${dataset.categories.map((c) => c.name).join(', ')}): set "classes" in the config to the dataset's category names`,
    );
  }
}

/** Runs the detector over a dataset (or some of its images) in batches. */
export async function detectDataset(detector: DetectingModel, dataset: Dataset, options: DetectDatasetOptions = {}): Promise<DatasetDetections> {
  checkClasses(detector.config, dataset, 'the dataset');
  const started = performance.now();
  const subset = options.imageIds === undefined ? dataset : subsetDataset(dataset, options.imageIds);
  const loader = evaluationLoader(subset, detector.config.data, {
    batchSize: options.batchSize ?? detector.config.train.batchSize,
    workers: options.workers ?? Math.min(detector.config.data.workers, 4),
  });
  const results: CocoDetection[] = [];
  const byImage = new Map<number, Detection[]>();
  let done = 0;
  try {
    for await (const batch of loader.iterate({ epoch: 0 })) {
      const perImage = await detector.detect(batch);
      if (perImage.length !== batch.metas.length) {
        throw new LaxrayError('NATIVE_ERROR', `detect returned ${perImage.length} results for a batch of ${batch.metas.length} images`);
      }
      batch.metas.forEach((meta, i) => {
        const dets = perImage[i]!;
        byImage.set(meta.imageId, dets);
        for (const d of dets) results.push(toCocoDetection(meta.imageId, d, dataset));
      });
      loader.recycle(batch);
      done += batch.metas.length;
      options.onProgress?.(done, loader.images.length);
    }
  } finally {
    await loader.close();
  }
  return { results, byImage, images: done, seconds: (performance.now() - started) / 1000 };
}

/** One detection as a COCO result entry. */
export function toCocoDetection(imageId: number, d: Detection, dataset: Pick<Dataset, 'labelToCategoryId'>): CocoDetection {
  const categoryId = dataset.labelToCategoryId[d.label];
  if (categoryId === undefined) {
    throw new LaxrayError('INVALID_DETECTIONS', `image ${imageId}: detection label ${d.label} has no category in the dataset (labels 0..${dataset.labelToCategoryId.length - 1})`);
  }
  const [x1, y1, x2, y2] = d.box;
  return { image_id: imageId, category_id: categoryId, bbox: [x1, y1, x2 - x1, y2 - y1], score: d.score };
}

/**
 * The dataset's ground truth as COCO JSON for lib/eval. Boxes are the loaded
 * ones (after the loader's clipping); ignore regions (iscrowd or ignore) become
 * crowd regions, as they are for training.
 */
export function datasetGroundTruth(dataset: Dataset): CocoGroundTruth {
  const annotations: CocoGroundTruth['annotations'] = [];
  for (const image of dataset.images) {
    const a = image.annotations;
    for (let j = 0; j < a.ids.length; j++) {
      const [x1, y1, x2, y2] = [a.boxes[4 * j]!, a.boxes[4 * j + 1]!, a.boxes[4 * j + 2]!, a.boxes[4 * j + 3]!];
      annotations.push({
        id: a.ids[j]!,
        image_id: image.id,
        category_id: a.categoryIds[j]!,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: a.areas[j]!,
        iscrowd: a.ignore[j]! ? 1 : 0,
      });
    }
  }
  return {
    images: dataset.images.map((im) => ({ id: im.id, width: im.width, height: im.height, file_name: im.fileName })),
    annotations,
    categories: dataset.categories.map((c) => ({ id: c.id, name: c.name })),
  };
}

/** Scores COCO results against the dataset (optionally on some images only). */
export function evaluateDetections(dataset: Dataset, results: readonly CocoDetection[], options: { imageIds?: readonly number[]; groundTruth?: CocoGroundTruth } = {}): CocoEvalResult {
  const gt = options.groundTruth ?? datasetGroundTruth(dataset);
  return evaluateCoco(gt, results, {
    ...(options.imageIds !== undefined ? { imageIds: options.imageIds } : {}),
    groundTruthSource: dataset.source ?? 'dataset',
    detectionsSource: 'detections',
  });
}

/**
 * Thresholds of the dataset's challenging subset: those recorded in
 * `challenging.json` next to a synthetic dataset (laxray synth writes it),
 * else the defaults.
 */
function datasetThresholds(dataset: Dataset): ChallengingOptions {
  return readChallengingThresholds(dataset.imageRoot) ?? { ...DEFAULT_CHALLENGING };
}

/**
 * The thresholds EvaluateDetectorOptions.challenging asks for; null: no
 * challenging subset. Evaluations read them before detecting, so that a
 * damaged challenging.json is reported before the work, not after it.
 */
export function challengingThresholds(dataset: Dataset, challenging: boolean | ChallengingOptions = true): ChallengingOptions | null {
  if (challenging === false) return null;
  return typeof challenging === 'object' ? challenging : datasetThresholds(dataset);
}

/**
 * Ids (ascending) of the dataset's challenging images: those with an annotation
 * whose `overlap` or `background_similarity` passes the thresholds. Empty when
 * the dataset carries neither field.
 */
export function challengingImageIds(dataset: Dataset, options?: ChallengingOptions): number[] {
  const thresholds = options ?? datasetThresholds(dataset);
  const ids: number[] = [];
  for (const image of dataset.images) {
    const marked = image.annotations.extra.some((e) => {
      const overlap = typeof e.overlap === 'number' ? e.overlap : undefined;
      const similarity = typeof e.background_similarity === 'number' ? e.background_similarity : undefined;
      if (overlap === undefined && similarity === undefined) return false;
      return isChallenging({ ...(overlap !== undefined ? { overlap } : {}), ...(similarity !== undefined ? { background_similarity: similarity } : {}) }, thresholds);
    });
    if (marked) ids.push(image.id);
  }
  return ids.sort((a, b) => a - b);
}

/**
 * Detects over a dataset and scores the result (COCO bbox, pycocotools'
 * numbers), plus the challenging subset when the dataset marks one.
 */
export async function evaluateDetector(detector: DetectingModel, dataset: Dataset, options: EvaluateDetectorOptions = {}): Promise<Evaluation> {
  const thresholds = options.imageIds === undefined ? challengingThresholds(dataset, options.challenging) : null;
  const detections = await detectDataset(detector, dataset, options);
  const groundTruth = datasetGroundTruth(dataset);
  const overall = evaluateDetections(dataset, detections.results, { groundTruth, ...(options.imageIds !== undefined ? { imageIds: options.imageIds } : {}) });
  let challenging: CocoEvalResult | null = null;
  let ids: number[] = [];
  if (thresholds !== null) {
    ids = challengingImageIds(dataset, thresholds);
    if (ids.length > 0) challenging = evaluateDetections(dataset, detections.results, { groundTruth, imageIds: ids });
  }
  return { overall, challenging, challengingImageIds: ids, detections };
}

/**
 * COCO bbox evaluation of `detector` on `dataset` (or on `imageIds` only):
 * lib/eval's result, with the 12 stats by name in `.stats`.
 * Use evaluateDetector for the challenging subset and the raw detections as well.
 */
export async function evaluate(detector: DetectingModel, dataset: Dataset, options: DetectDatasetOptions = {}): Promise<CocoEvalResult> {
  const detections = await detectDataset(detector, dataset, options);
  return evaluateDetections(dataset, detections.results, options.imageIds !== undefined ? { imageIds: options.imageIds } : {});
}
