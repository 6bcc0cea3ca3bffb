// The learning-rate schedule, as mmcv's StepLrUpdaterHook with linear warm-up
// (by_epoch, what mmdetection's ATSS configs use):
//   regular(epoch) = lr · lrGamma^(number of lrSteps s with epoch ≥ s)
//   warm-up (iteration < warmupIters):
//     regular(epoch) · (1 − (1 − iteration / warmupIters) · (1 − warmupRatio))
// with lr = effectiveLr(config) = baseLr × batchSize / baseBatchSize.
// `iteration` counts iterations done before this one over the whole run (0 at
// the first step); `epoch` counts finished epochs (0 during the first).
import { LaxrayError } from '../errors.js';
import type { LaxrayConfig } from './schema.js';

type TrainPart = Pick<LaxrayConfig['train'], 'baseLr' | 'batchSize' | 'baseBatchSize'>;

/** The learning rate after linear scaling: baseLr × batchSize / baseBatchSize (Goyal et al.). */
export function effectiveLr(config: { train: TrainPart }): number {
  const t = config.train;
  return (t.baseLr * t.batchSize) / t.baseBatchSize;
}

/** The learning rate of the step at global `iteration` (from 0) in `epoch` (from 0). */
export function learningRateAt(config: Pick<LaxrayConfig, 'train'>, iteration: number, epoch: number): number {
  if (!Number.isInteger(iteration) || iteration < 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `learningRateAt: iteration must be an integer ≥ 0, got ${iteration}`);
  }
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `learningRateAt: epoch must be an integer ≥ 0, got ${epoch}`);
  }
  const t = config.train;
  const decays = t.lrSteps.filter((step) => epoch >= step).length;
  const regular = effectiveLr(config) * t.lrGamma ** decays;
  if (t.warmupIters > 0 && iteration < t.warmupIters) {
    const k = (1 - iteration / t.warmupIters) * (1 - t.warmupRatio);
    return regular * (1 - k);
  }
  return regular;
}
