// The evaluation parameters of pycocotools' COCOeval for iouType 'bbox'
// (Params.setDetParams), reproduced to the last bit: thresholds are built the
// way np.linspace builds them, so `t == 0.75` compares exactly as it does there.

/** numpy.linspace(start, stop, num) with endpoint=True: i·step + start, last = stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** IoU thresholds .50:.05:.95 (T = 10). */
export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1);

/** Recall thresholds 0:.01:1 (R = 101) for the interpolated precision. */
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, Math.round((1 - 0) / 0.01) + 1);

export type AreaRangeLabel = 'all' | 'small' | 'medium' | 'large';

export interface AreaRange {
  label: AreaRangeLabel;
  /** Inclusive bounds on the annotation's `area` (ground truth) or w·h (detections). */
  min: number;
  max: number;
}

/** Area ranges in pycocotools' order: all, small (< 32²), medium, large (> 96²). */
export const AREA_RANGES: readonly AreaRange[] = [
  { label: 'all', min: 0, max: 1e5 ** 2 },
  { label: 'small', min: 0, max: 32 ** 2 },
  { label: 'medium', min: 32 ** 2, max: 96 ** 2 },
  { label: 'large', min: 96 ** 2, max: 1e5 ** 2 },
];

/** Maximum detections per image and category (M = 3, ascending; the last one truncates). */
export const MAX_DETS: readonly number[] = [1, 10, 100];

/** np.spacing(1): keeps precision finite when no detection is counted yet. */
export const EPS = 2.220446049250313e-16;

export const T = IOU_THRESHOLDS.length;
export const R = RECALL_THRESHOLDS.length;
export const A = AREA_RANGES.length;
export const M = MAX_DETS.length;
