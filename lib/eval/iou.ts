// Box IoU exactly as pycocotools computes it (common/maskApi.c, bbIou), with
// boxes as [x, y, w, h]. For a crowd ground-truth box the union is the
// detection's own area, so a detection inside a crowd region scores 1.

/**
 * IoU of detection box `d` (at offset 4·di of `dBoxes`) with ground-truth box
 * `g` (at 4·gi of `gBoxes`). Same operations in the same order as bbIou, so the
 * result is bit-identical.
 */
export function cocoBoxIou(dBoxes: Float64Array, di: number, gBoxes: Float64Array, gi: number, crowd: boolean): number {
  const dx = dBoxes[4 * di]!;
  const dy = dBoxes[4 * di + 1]!;
  const dw = dBoxes[4 * di + 2]!;
  const dh = dBoxes[4 * di + 3]!;
  const gx = gBoxes[4 * gi]!;
  const gy = gBoxes[4 * gi + 1]!;
  const gw = gBoxes[4 * gi + 2]!;
  const gh = gBoxes[4 * gi + 3]!;
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
  if (h <= 0) return 0;
  const i = w * h;
  const da = dw * dh;
  const u = crowd ? da : da + gw * gh - i;
  return i / u;
}
