// The SGD settings a detector's optimiser takes (and a checkpoint stores):
// the config's train.momentum / weightDecay / gradClipNorm, checked by the
// same rules wherever they enter.
export interface OptimizerOptions {
  momentum: number;
  weightDecay: number;
  /** null: no clipping. */
  gradClipNorm: number | null;
}
