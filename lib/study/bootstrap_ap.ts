// How much of an AP figure is test-set noise: a bootstrap over test images.
// Each resample draws the test images with replacement; an image drawn twice
// enters the evaluation twice (its copies get fresh image and annotation ids,
// since lib/eval, like pycocotools, merges repeated image ids). Evaluation is
// lib/eval's COCO evaluator, unchanged.
import { evaluateCoco, type CocoAnnotation, type CocoDetection, type CocoGroundTruth, type StatName } from '../eval/index.js';
import { LaxrayError } from '../errors.js';
import { bootstrap, type BootstrapResult } from './stats.js';

/** Ground truth and detections grouped by image, in a fixed image order, ready to resample. */
export interface ResamplableSet {
  images: CocoGroundTruth['images'];
  annotations: CocoAnnotation[][];
  categories: CocoGroundTruth['categories'];
}

/** Groups the ground truth by image (only `imageIds` when given, in ascending id order). */
export function resamplable(groundTruth: CocoGroundTruth, imageIds?: readonly number[]): ResamplableSet {
  const wanted = imageIds === undefined ? null : new Set(imageIds);
  const images = groundTruth.images.filter((im) => wanted === null || wanted.has(im.id)).sort((a, b) => a.id - b.id);
  if (images.length === 0) throw new LaxrayError('INVALID_ARGUMENT', 'nothing to bootstrap: the ground truth has none of the requested images');
  const index = new Map(images.map((im, i) => [im.id, i]));
  const annotations: CocoAnnotation[][] = images.map(() => []);
  for (const a of groundTruth.annotations) {
    const i = index.get(a.image_id);
    if (i !== undefined) annotations[i]!.push(a);
  }
  return { images, annotations, categories: groundTruth.categories };
}

function groupDetections(set: ResamplableSet, detections: readonly CocoDetection[]): CocoDetection[][] {
  const index = new Map(set.images.map((im, i) => [im.id, i]));
  const out: CocoDetection[][] = set.images.map(() => []);
  for (const d of detections) {
    const i = index.get(d.image_id);
    if (i !== undefined) out[i]!.push(d);
  }
  return out;
}

/** The resample `indices` (positions in set.images) as a COCO ground truth and detections with fresh ids. */
export function resample(set: ResamplableSet, detectionsByImage: readonly CocoDetection[][], indices: Int32Array): { groundTruth: CocoGroundTruth; detections: CocoDetection[] } {
  const images: CocoGroundTruth['images'] = [];
  const annotations: CocoAnnotation[] = [];
  const detections: CocoDetection[] = [];
  let annId = 1;
  indices.forEach((src, k) => {
    const id = k + 1;
    images.push({ ...set.images[src]!, id });
    for (const a of set.annotations[src]!) annotations.push({ ...a, id: annId++, image_id: id });
    for (const d of detectionsByImage[src]!) detections.push({ ...d, image_id: id });
  });
  return { groundTruth: { images, annotations, categories: set.categories }, detections };
}

function statOf(set: ResamplableSet, byImage: readonly CocoDetection[][], indices: Int32Array, stat: StatName): number {
  const { groundTruth, detections } = resample(set, byImage, indices);
  return evaluateCoco(groundTruth, detections).stats[stat];
}

export interface BootstrapApOptions {
  stat?: StatName;
  draws?: number;
  seed?: number;
  imageIds?: readonly number[];
}

/** Bootstrap of one COCO statistic (default AP) of one detector's results over the test images. */
export function bootstrapStat(groundTruth: CocoGroundTruth, detections: readonly CocoDetection[], options: BootstrapApOptions = {}): BootstrapResult {
  const set = resamplable(groundTruth, options.imageIds);
  const byImage = groupDetections(set, detections);
  const stat = options.stat ?? 'AP';
  return bootstrap(set.images.length, (idx) => statOf(set, byImage, idx, stat), options);
}

/**
 * Paired bootstrap of the difference a − b of a statistic between two
 * detectors' results on the same test images (each resample evaluates both on
 * the same images).
 */
export function bootstrapDifference(groundTruth: CocoGroundTruth, a: readonly CocoDetection[], b: readonly CocoDetection[], options: BootstrapApOptions = {}): BootstrapResult {
  const set = resamplable(groundTruth, options.imageIds);
  const byA = groupDetections(set, a);
  const byB = groupDetections(set, b);
  const stat = options.stat ?? 'AP';
  return bootstrap(set.images.length, (idx) => statOf(set, byA, idx, stat) - statOf(set, byB, idx, stat), options);
}
