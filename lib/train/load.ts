// Loading a trained detector from a run directory or a weights file, and the
// datasets a config names.
import { Detector } from '../detector.js';
import { LaxrayError } from '../errors.js';
import { loadCocoDataset, type Dataset } from '../data/index.js';
import { defaultConfig, deepMerge, type LaxrayConfig, type LaxrayConfigInput } from '../config/index.js';
import type { JsonObject } from '../config/merge.js';
import { resolveModelSource } from './run_dir.js';

/**
 * A detector with trained weights from `source`: a run directory (its
 * config.json and latest checkpoint) or a .safetensors file written by
 * Detector.saveWeights (its config is in the metadata). `overrides` apply to the
 * config (e.g. `{ device: 'cuda' }`). Detector.load is this function.
 *
 * The stored config gives the model and its pipeline, never the resources of
 * this process: device, threads, data.workers, data.prefetch and
 * data.maxInputPixels come from `overrides` or the defaults. A stored
 * data.imageScale above the pixel limit is refused, saying how to raise it.
 */
export async function loadDetector(source: string, overrides: LaxrayConfigInput = {}): Promise<Detector> {
  const local = localResources(overrides);
  const limit = local.data.maxInputPixels;
  // resolved without a pixel limit first, so that an over-limit scale gets the message below
  const pinned = { ...local, model: { backbone: { pretrained: null } }, data: { ...local.data, maxInputPixels: Number.MAX_SAFE_INTEGER } };
  const resolved = await resolveModelSource(source, deepMerge(overrides as JsonObject, pinned as JsonObject) as LaxrayConfigInput);
  const [long, short] = resolved.config.data.imageScale;
  if (long * short > limit) {
    throw new LaxrayError(
      'INVALID_CONFIG',
      `${source}: its data.imageScale [${long}, ${short}] makes inputs of up to ${long * short} pixels, above data.maxInputPixels (${limit}). ` +
        'The limit is never taken from the file: to allow it, pass Detector.load(source, { data: { maxInputPixels: N } }) or laxray detect --max-input-pixels N',
    );
  }
  const detector = await Detector.create({ ...resolved.config, data: { ...resolved.config.data, maxInputPixels: limit } });
  await detector.loadWeights(resolved.weights);
  return detector;
}

/** The settings that size this process's resources: the caller's, else the defaults (never a stored config's). */
function localResources(overrides: LaxrayConfigInput) {
  const defaults = defaultConfig();
  return {
    device: overrides.device ?? defaults.device,
    threads: overrides.threads ?? defaults.threads,
    data: {
      workers: overrides.data?.workers ?? defaults.data.workers,
      prefetch: overrides.data?.prefetch ?? defaults.data.prefetch,
      maxInputPixels: overrides.data?.maxInputPixels ?? defaults.data.maxInputPixels,
    },
  };
}

/** The training and validation datasets of a config (data.train required, data.val optional). */
export async function loadConfigDatasets(config: LaxrayConfig): Promise<{ train: Dataset; val: Dataset | null }> {
  const { train, val } = config.data;
  if (train === null) {
    throw new LaxrayError(
      'INVALID_CONFIG',
      'the config has no training data: set data.train to {"annotations": "<coco.json>", "images": "<folder>"} (or pass --train <coco.json> to laxray train)',
    );
  }
  const options = { boxPolicy: config.data.invalidBoxes };
  const trainSet = await loadCocoDataset(train.annotations, { ...options, imageRoot: train.images });
  const valSet = val === null ? null : await loadCocoDataset(val.annotations, { ...options, imageRoot: val.images });
  return { train: trainSet, val: valSet };
}
