// The batch format the detector and trainer consume, and `collate`, which
// packs prepared images into it. This file is the contract with the native
// side: one contiguous Float32Array [N, 3, H, W] (CHW per image, zero padded
// bottom/right) plus per-image meta and targets as typed arrays.
import { LaxrayError } from '../errors.js';
import { DEFAULT_SIZE_DIVISOR, padTo } from './transforms.js';

/** How one image went from the file to its slot in the batch tensor. */
export interface ImageMeta {
  /** COCO image id (for inference inputs: the input's index in the call). */
  imageId: number;
  /** Source file, when the image came from one. */
  fileName?: string;
  /** Size of the decoded file (pixels). */
  originalWidth: number;
  originalHeight: number;
  /** Size after the resize step; the image occupies [0, resizedWidth) × [0, resizedHeight) of its slot. */
  resizedWidth: number;
  resizedHeight: number;
  /**
   * resized / original per axis. A point (x, y) of the original image is at
   * (x · scaleX, y · scaleY) in the input (before the flip); to map a predicted
   * box back: x_orig = x_input / scaleX (after undoing the flip).
   */
  scaleX: number;
  scaleY: number;
  /** Mirrored horizontally: input x = resizedWidth − (x · scaleX). */
  flipped: boolean;
  /** Zero padding of this image in the batch: the batch width − resizedWidth, height − resizedHeight. */
  padRight: number;
  padBottom: number;
}

/** Training targets of one image, in input-pixel coordinates (after resize and flip). */
export interface ImageTargets {
  /** K × 4 rows of x1, y1, x2, y2. */
  boxes: Float32Array;
  /** K contiguous labels 0..C−1 (Dataset.labelToCategoryId maps back). */
  labels: Int32Array;
  /** M × 4 crowd / ignore regions: neither positives nor negatives for the assigner (may be empty). */
  ignoreBoxes: Float32Array;
  /** K COCO annotation ids, in the order of `boxes`. */
  annotationIds: number[];
}

/** A batch for inference: images only. */
export interface Batch {
  /**
   * N × 3 × H × W, row-major: normalised RGB with zeros in the padding, or raw
   * RGB bytes (0..255), which the detector uploads as they are (a quarter of
   * the bytes) and normalises on its device, zeroing each image's padding
   * (outside resizedWidth × resizedHeight).
   */
  data: Float32Array | Uint8Array;
  /** [N, 3, H, W]; H and W are multiples of the size divisor (32 by default). */
  shape: [number, number, number, number];
  metas: ImageMeta[];
}

/** A batch for training: images plus targets, and where it sits in the epoch. */
export interface TrainingBatch extends Batch {
  targets: ImageTargets[];
  /** Epoch this batch belongs to (0-based). */
  epoch: number;
  /** Index of the batch within its epoch (0-based). */
  index: number;
  /**
   * Positions [start, end) of the epoch's permutation covered by the job's
   * global batch (data-parallel: all processes' batches together); after this
   * step the job has consumed `end` images of the epoch. Set by DataLoader.
   */
  start?: number;
  end?: number;
}

/** One image after decode, resize, flip and normalise, not yet padded. */
export interface PreparedImage {
  /** 3 × resizedHeight × resizedWidth, CHW. */
  data: Float32Array;
  meta: Omit<ImageMeta, 'padRight' | 'padBottom'>;
  targets?: ImageTargets;
}

export interface CollateOptions {
  /** H and W of the batch are rounded up to a multiple of this (default 32). */
  sizeDivisor?: number;
  /**
   * Memory to build the batch in (reused from an earlier batch) when it holds
   * at least N·3·H·W floats; its padding is zeroed explicitly.
   */
  out?: ArrayBuffer;
}

/**
 * Checks that every target label of a training batch is a class id of a model
 * with `numClasses` classes (0..numClasses−1), where the batch enters the
 * engine: the native step then reads labels without checking them on the
 * device (which would wait for the GPU). Throws INVALID_ARGUMENT naming the
 * image, box and label.
 */
export function checkTargetLabels(batch: Pick<TrainingBatch, 'targets' | 'metas'>, numClasses: number): void {
  batch.targets.forEach((t, i) => {
    for (let k = 0; k < t.labels.length; k++) {
      const label = t.labels[k]!;
      if (label < 0 || label >= numClasses) {
        const image = batch.metas[i];
        throw new LaxrayError(
          'INVALID_ARGUMENT',
          `training batch image ${i} (image id ${image?.imageId ?? '?'}${image?.fileName ? `, ${image.fileName}` : ''}), box ${k}: label ${label} is not a class id of this model: it has ${numClasses} classes (0..${numClasses - 1}); the dataset's classes must match model.head.numClasses / classes`,
        );
      }
    }
  });
}

/**
 * Packs images into one zero-padded [N, 3, Hmax, Wmax] tensor, where Hmax and
 * Wmax are the largest resized height / width rounded up to `sizeDivisor`.
 */
export function collate(images: readonly PreparedImage[], options: CollateOptions = {}): Batch {
  if (images.length === 0) throw new LaxrayError('INVALID_ARGUMENT', 'cannot collate an empty list of images');
  const divisor = options.sizeDivisor ?? DEFAULT_SIZE_DIVISOR;
  let maxH = 0;
  let maxW = 0;
  for (const image of images) {
    const { resizedWidth: w, resizedHeight: h } = image.meta;
    if (image.data.length !== 3 * w * h) {
      throw new LaxrayError('INVALID_ARGUMENT', `image ${image.meta.imageId}: data holds ${image.data.length} floats, 3×${h}×${w} needs ${3 * w * h}`);
    }
    maxH = Math.max(maxH, h);
    maxW = Math.max(maxW, w);
  }
  const H = padTo(maxH, divisor);
  const W = padTo(maxW, divisor);
  const n = images.length;
  const size = n * 3 * H * W;
  const reuse = options.out !== undefined && options.out.byteLength >= 4 * size;
  // A fresh array is zero-filled (the padding); a reused one gets its padding zeroed below.
  const data = reuse ? new Float32Array(options.out!, 0, size) : new Float32Array(size);
  const metas: ImageMeta[] = [];
  for (let i = 0; i < n; i++) {
    const image = images[i]!;
    const { resizedWidth: w, resizedHeight: h } = image.meta;
    const src = image.data;
    for (let c = 0; c < 3; c++) {
      const srcPlane = c * h * w;
      const dstPlane = (i * 3 + c) * H * W;
      if (w === W) {
        // Rows are contiguous in both: one copy per channel.
        data.set(src.subarray(srcPlane, srcPlane + h * w), dstPlane);
      } else {
        for (let y = 0; y < h; y++) {
          data.set(src.subarray(srcPlane + y * w, srcPlane + (y + 1) * w), dstPlane + y * W);
          if (reuse) data.fill(0, dstPlane + y * W + w, dstPlane + (y + 1) * W);
        }
      }
      if (reuse && h < H) data.fill(0, dstPlane + h * W, dstPlane + H * W);
    }
    metas.push({ ...image.meta, padRight: W - w, padBottom: H - h });
  }
  return { data, shape: [n, 3, H, W], metas };
}
