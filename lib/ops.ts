// `laxray/ops`: tensor and box operations on plain typed arrays, for users and tests.
// Boxes are Float32Array rows of x1, y1, x2, y2 (length a multiple of 4). Every
// function runs in the addon on a worker thread and returns a Promise.
import { LaxrayError } from './errors.js';
import { native } from './native.js';
import { resolveDeviceName } from './device.js';

export { Tensor, matmul, type DType, type HostArray, type TensorData } from './tensor.js';
export { labelAwareCls, labelAwareReg, type LabelAwareClsInput, type LabelAwareRegInput } from './label_aware.js';

export type Reduction = 'none' | 'sum' | 'mean';

export interface OpsOptions {
  /** 'cpu' | 'cuda' | 'cuda:<i>'; default LAXRAY_DEVICE or cpu. NMS always runs on the CPU. */
  device?: string;
}

export interface FocalLossOptions extends OpsOptions {
  /** Weight of positives (1 − alpha for negatives); negative: no weighting. Default 0.25. */
  alpha?: number;
  /** Focusing exponent ≥ 0. Default 2. */
  gamma?: number;
  /** Default 'none'. */
  reduction?: Reduction;
}

export interface AtssAssignOptions extends OpsOptions {
  /** Candidates per level and gt box (closest anchor centres). Default 9. */
  topk?: number;
  /** When given, every gt label must lie in [0, numClasses). */
  numClasses?: number;
}

export interface AtssAssignment {
  /** Per anchor: the class of its matched gt box, −1 for background. */
  labels: Int32Array;
  /** Per anchor: index of its matched gt box, −1 for background. */
  matchedGt: Int32Array;
  /** Per anchor: IoU with its matched gt (positives) or the largest IoU with any gt (background; 0 without gts). */
  maxIou: Float32Array;
  /** Per gt box: the adaptive IoU threshold, mean + std of its candidates' IoUs. */
  thresholds: Float32Array;
}

function checkFloat32(value: unknown, name: string): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) throw new LaxrayError('INVALID_ARGUMENT', `${name} must be a Float32Array`);
}

function checkInt32(value: unknown, name: string): asserts value is Int32Array {
  if (!(value instanceof Int32Array)) throw new LaxrayError('INVALID_ARGUMENT', `${name} must be an Int32Array`);
}

/** Validates a Float32Array of x1, y1, x2, y2 rows; returns the number of boxes. */
function checkBoxArray(value: unknown, name: string): number {
  checkFloat32(value, name);
  if (value.length % 4 !== 0) {
    throw new LaxrayError(
      'INVALID_ARGUMENT',
      `${name} must hold rows of x1, y1, x2, y2: its length ${value.length} is not a multiple of 4`,
    );
  }
  return value.length / 4;
}

function checkScores(scores: unknown, count: number, name: string): void {
  checkFloat32(scores, name);
  if (scores.length !== count) {
    throw new LaxrayError('INVALID_ARGUMENT', `${name} must hold one score per box (${count}), got ${scores.length}`);
  }
}

function checkThreshold(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new LaxrayError('INVALID_ARGUMENT', `${name} must be a finite number, got ${String(value)}`);
  }
}

/** IoU of every box in `a` (N) with every box in `b` (M): N×M, row-major. */
export async function boxIou(a: Float32Array, b: Float32Array, options: OpsOptions = {}): Promise<Float32Array> {
  checkBoxArray(a, 'boxIou: a');
  checkBoxArray(b, 'boxIou: b');
  return native.boxIou(a, b, resolveDeviceName(options.device));
}

/** Generalized IoU (IoU − (hull − union) / hull) of every pair: N×M, row-major, in [−1, 1]. */
export async function generalizedBoxIou(a: Float32Array, b: Float32Array, options: OpsOptions = {}): Promise<Float32Array> {
  checkBoxArray(a, 'generalizedBoxIou: a');
  checkBoxArray(b, 'generalizedBoxIou: b');
  return native.generalizedBoxIou(a, b, resolveDeviceName(options.device));
}

/**
 * Greedy non-maximum suppression (torchvision semantics): indices of the kept
 * boxes by decreasing score (equal scores: lower index first); a box is dropped
 * when its IoU with a kept, higher-scoring box is strictly greater than `iouThreshold`.
 */
export async function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Promise<Int32Array> {
  const count = checkBoxArray(boxes, 'nms: boxes');
  checkScores(scores, count, 'nms: scores');
  checkThreshold(iouThreshold, 'nms: iouThreshold');
  return native.nms(boxes, scores, iouThreshold);
}

/** NMS within each class: boxes with different `classIds` never suppress each other. */
export async function batchedNms(
  boxes: Float32Array,
  scores: Float32Array,
  classIds: Int32Array,
  iouThreshold: number,
): Promise<Int32Array> {
  const count = checkBoxArray(boxes, 'batchedNms: boxes');
  checkScores(scores, count, 'batchedNms: scores');
  checkInt32(classIds, 'batchedNms: classIds');
  if (classIds.length !== count) {
    throw new LaxrayError('INVALID_ARGUMENT', `batchedNms: classIds must hold one id per box (${count}), got ${classIds.length}`);
  }
  checkThreshold(iouThreshold, 'batchedNms: iouThreshold');
  return native.batchedNms(boxes, scores, classIds, iouThreshold);
}

/**
 * Sigmoid focal loss (torchvision.ops.sigmoid_focal_loss): per element
 * BCE(x, t) · (1 − p_t)^γ · (α·t + (1 − α)(1 − t)). 'none' gives one value per
 * element; 'sum' and 'mean' a number.
 */
export async function sigmoidFocalLoss(
  logits: Float32Array,
  targets: Float32Array,
  options?: FocalLossOptions & { reduction?: 'none' },
): Promise<Float32Array>;
export async function sigmoidFocalLoss(
  logits: Float32Array,
  targets: Float32Array,
  options: FocalLossOptions & { reduction: 'sum' | 'mean' },
): Promise<number>;
export async function sigmoidFocalLoss(
  logits: Float32Array,
  targets: Float32Array,
  options?: FocalLossOptions,
): Promise<Float32Array | number>;
export async function sigmoidFocalLoss(
  logits: Float32Array,
  targets: Float32Array,
  options: FocalLossOptions = {},
): Promise<Float32Array | number> {
  checkFloat32(logits, 'sigmoidFocalLoss: logits');
  checkFloat32(targets, 'sigmoidFocalLoss: targets');
  if (logits.length !== targets.length) {
    throw new LaxrayError(
      'INVALID_ARGUMENT',
      `sigmoidFocalLoss: logits (${logits.length}) and targets (${targets.length}) must have the same length`,
    );
  }
  const { alpha = 0.25, gamma = 2, reduction = 'none' } = options;
  checkThreshold(alpha, 'sigmoidFocalLoss: alpha');
  checkThreshold(gamma, 'sigmoidFocalLoss: gamma');
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') {
    throw new LaxrayError('INVALID_ARGUMENT', `sigmoidFocalLoss: reduction must be 'none', 'sum' or 'mean', got '${String(reduction)}'`);
  }
  const out = await native.sigmoidFocalLoss(logits, targets, alpha, gamma, reduction, resolveDeviceName(options.device));
  return reduction === 'none' ? out : out[0]!;
}

/**
 * ATSS label assignment. `anchors` are the anchor boxes of all FPN levels
 * concatenated (`numAnchorsPerLevel` says how many per level); `gtBoxes` and
 * `gtLabels` the image's ground truth. Per gt and level the `topk` anchors
 * closest to the gt centre are candidates; those with IoU ≥ mean + std of the
 * candidates' IoUs and their centre inside the gt box are positive; an anchor
 * positive for several gts takes the one with the highest IoU.
 */
export async function atssAssign(
  anchors: Float32Array,
  numAnchorsPerLevel: readonly number[],
  gtBoxes: Float32Array,
  gtLabels: Int32Array,
  options: AtssAssignOptions = {},
): Promise<AtssAssignment> {
  const numAnchors = checkBoxArray(anchors, 'atssAssign: anchors');
  const numGt = checkBoxArray(gtBoxes, 'atssAssign: gtBoxes');
  checkInt32(gtLabels, 'atssAssign: gtLabels');
  if (gtLabels.length !== numGt) {
    throw new LaxrayError('INVALID_ARGUMENT', `atssAssign: gtLabels must hold one label per gt box (${numGt}), got ${gtLabels.length}`);
  }
  if (!Array.isArray(numAnchorsPerLevel) || !numAnchorsPerLevel.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new LaxrayError('INVALID_ARGUMENT', 'atssAssign: numAnchorsPerLevel must be an array of integers >= 0');
  }
  const total = numAnchorsPerLevel.reduce((s, n) => s + n, 0);
  if (total !== numAnchors) {
    throw new LaxrayError('INVALID_ARGUMENT', `atssAssign: numAnchorsPerLevel sums to ${total} but anchors holds ${numAnchors} boxes`);
  }
  const { topk = 9, numClasses = 0 } = options;
  if (!Number.isInteger(topk) || topk < 1) throw new LaxrayError('INVALID_ARGUMENT', `atssAssign: topk must be an integer >= 1, got ${topk}`);
  if (!Number.isInteger(numClasses) || numClasses < 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `atssAssign: numClasses must be an integer >= 0 (0: labels unchecked), got ${numClasses}`);
  }
  return native.atssAssign(anchors, [...numAnchorsPerLevel], gtBoxes, gtLabels, topk, numClasses, resolveDeviceName(options.device));
}
