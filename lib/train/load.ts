// Loading a trained detector from a run directory or a weights file, and the
// datasets a config names.
import { Detector } from '../detector.js';
import { LaxrayError } from '../errors.js';
import { loadCocoDataset, type Dataset } from '../data/index.js';
import type { LaxrayConfig, LaxrayConfigInput } from '../config/index.js';
import { resolveModelSource } from './run_dir.js';

/**
 * A detector with trained weights from `source`: a run directory (its
 * config.json and latest checkpoint) or a .safetensors file written by
 * Detector.saveWeights (its config is in the metadata). `overrides` apply to the
 * config (e.g. `{ device: 'cuda' }`). Detector.load is this function.
 */
export async function loadDetector(source: string, overrides: LaxrayConfigInput = {}): Promise<Detector> {
  const resolved = await resolveModelSource(source, { ...overrides, model: { ...(overrides.model ?? {}), backbone: { ...(overrides.model?.backbone ?? {}), pretrained: null } } });
  const detector = await Detector.create(resolved.config);
  await detector.loadWeights(resolved.weights);
  return detector;
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
