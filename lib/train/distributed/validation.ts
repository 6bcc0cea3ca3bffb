// Validation in a data-parallel job: each rank detects its share of the
// validation images (image k goes to rank k mod W), the detections are
// gathered to rank 0 over the process group, and rank 0 scores them exactly
// as a single process would: its COCO results are rebuilt in dataset order,
// so the evaluation sees the same input (and gives the same mAP) as
// evaluateDetector on one process with the same weights.
import type { Dataset } from '../../data/index.js';
import type { Detection } from '../../detector.js';
import {
  challengingImageIds,
  challengingThresholds,
  datasetGroundTruth,
  detectDataset,
  evaluateDetections,
  toCocoDetection,
  type DetectingModel,
  type EvaluateDetectorOptions,
  type Evaluation,
} from '../evaluate_detector.js';
import type { CocoDetection, CocoEvalResult } from '../../eval/index.js';
import type { ProcessGroup } from './group.js';

type Shard = [imageId: number, detections: Detection[]][];

/** The image ids rank `rank` of `worldSize` detects (every k-th image of the dataset). */
export function validationShard(dataset: Dataset, rank: number, worldSize: number): number[] {
  return dataset.images.filter((_, k) => k % worldSize === rank).map((image) => image.id);
}

/**
 * Collective: evaluates `detector` on `dataset` with the work split over the
 * group's ranks. Rank 0 gets the Evaluation (same numbers as
 * evaluateDetector); the other ranks get null.
 */
export async function evaluateSharded(
  detector: DetectingModel,
  dataset: Dataset,
  group: ProcessGroup,
  options: Pick<EvaluateDetectorOptions, 'batchSize' | 'workers' | 'challenging'> = {},
): Promise<Evaluation | null> {
  const started = performance.now();
  // every rank reads them (a damaged challenging.json stops all ranks at once, before the work)
  const thresholds = challengingThresholds(dataset, options.challenging);
  const ids = validationShard(dataset, group.rank, group.worldSize);
  const mine = ids.length > 0 ? await detectDataset(detector, dataset, { ...options, imageIds: ids }) : null;
  const shard: Shard = ids.map((id) => [id, mine?.byImage.get(id) ?? []]);
  const shards = await group.allGatherJson(shard);
  if (group.rank !== 0) return null;

  const byImage = new Map<number, Detection[]>(shards.flat());
  const results: CocoDetection[] = [];
  for (const image of dataset.images) {
    for (const d of byImage.get(image.id) ?? []) results.push(toCocoDetection(image.id, d, dataset));
  }
  const groundTruth = datasetGroundTruth(dataset);
  const overall = evaluateDetections(dataset, results, { groundTruth });
  let challenging: CocoEvalResult | null = null;
  let challengingIds: number[] = [];
  if (thresholds !== null) {
    challengingIds = challengingImageIds(dataset, thresholds);
    if (challengingIds.length > 0) challenging = evaluateDetections(dataset, results, { groundTruth, imageIds: challengingIds });
  }
  return {
    overall,
    challenging,
    challengingImageIds: challengingIds,
    detections: { results, byImage, images: byImage.size, seconds: (performance.now() - started) / 1000 },
  };
}
