// The datasets a config names (data.train, data.val).
import { LaxrayError } from '../errors.js';
import { loadCocoDataset, type Dataset } from '../data/index.js';
import type { LaxrayConfig } from '../config/index.js';

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
