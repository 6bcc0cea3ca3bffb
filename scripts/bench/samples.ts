// What the benchmarks share: the median of timed samples, rounding for the
// JSON lines, timing one call, and the inputs they feed the detector (smooth
// values, the same every call, and a training batch of those with two boxes
// per image). test/helpers/small-detector.ts builds its batches here too.
import type { TrainingBatch } from '../../lib/data/index.js';

export const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Milliseconds `call` takes to settle. */
export async function elapsedMs(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A [n, 3, height, width] batch of smooth values in [−1.5, 1.5]. */
export function smoothImages(n: number, height: number, width: number): { data: Float32Array; shape: number[] } {
  return { data: new Float32Array(n * 3 * height * width).map((_, i) => Math.sin(i * 0.001) * 1.5), shape: [n, 3, height, width] };
}

/** A training batch of `data` ([n, 3, height, width], unpadded) with two boxes per image (classes 0 and 1), the second shifted by the image's index. */
export function trainingBatchOf(data: Float32Array, n: number, height: number, width: number): TrainingBatch & { data: Float32Array } {
  const [w, h] = [width, height];
  return {
    data,
    shape: [n, 3, h, w],
    metas: Array.from({ length: n }, (_, i) => ({
      imageId: i, originalWidth: w, originalHeight: h, resizedWidth: w, resizedHeight: h,
      scaleX: 1, scaleY: 1, flipped: false, padRight: 0, padBottom: 0,
    })),
    targets: Array.from({ length: n }, (_, i) => ({
      boxes: Float32Array.from([w * 0.1, h * 0.15, w * 0.55, h * 0.6, w * 0.4 + i, h * 0.3, w * 0.9, h * 0.85]),
      labels: Int32Array.from([0, 1]),
      ignoreBoxes: new Float32Array(0),
      annotationIds: [0, 1],
    })),
    epoch: 0,
    index: 0,
  };
}
