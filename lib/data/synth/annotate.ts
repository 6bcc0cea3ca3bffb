// Labels from the render: tight boxes from object masks, each object's overlap
// with the other labelled objects, and how much it looks like its surroundings.
import type { MaskRegion } from './shapes.js';

export interface SynthAnnotation {
  categoryId: number;
  /** COCO [x, y, w, h] in px: the tight box around the mask (pixel edges). */
  bbox: [number, number, number, number];
  /** Mask pixels (projected thickness > 0) inside the image. */
  maskArea: number;
  /**
   * Fraction of this object's mask that other labelled objects' masks also
   * cover (0 = free, 1 = completely overlapped).
   */
  overlap: number;
  /**
   * 1 − contrast between the object and its surroundings: with m_in the mean
   * noise-free line integral A_E over the mask and m_out its mean over a ring
   * around the object (its box grown by max(3, 0.15·√area) px, mask excluded),
   * contrast = max over the two energies of |m_in − m_out| / max(m_in, m_out).
   * Near 1: the object is about as dense as what lies around it (hard to see);
   * near 0: it stands out.
   */
  backgroundSimilarity: number;
}

/** Tight [x0, y0, x1, y1] (inclusive pixel indices) of a mask, or null when empty. */
export function maskExtent(mask: MaskRegion): [number, number, number, number] | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < mask.h; y++) {
    const row = y * mask.w;
    for (let x = 0; x < mask.w; x++) {
      if (mask.data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  return [mask.x0 + x0, mask.y0 + y0, mask.x0 + x1, mask.y0 + y1];
}

export function maskArea(mask: MaskRegion): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i] as number;
  return n;
}

/** Per mask: the fraction of its pixels covered by at least one other mask. */
export function overlapRatios(masks: readonly MaskRegion[], width: number, height: number): number[] {
  if (masks.length < 2) return masks.map(() => 0);
  const count = new Uint8Array(width * height);
  for (const m of masks) {
    for (let y = 0; y < m.h; y++) {
      const row = (m.y0 + y) * width + m.x0;
      for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) count[row + x] = Math.min(255, (count[row + x] as number) + 1);
    }
  }
  return masks.map((m) => {
    let area = 0;
    let shared = 0;
    for (let y = 0; y < m.h; y++) {
      const row = (m.y0 + y) * width + m.x0;
      for (let x = 0; x < m.w; x++) {
        if (m.data[y * m.w + x]) {
          area++;
          if ((count[row + x] as number) >= 2) shared++;
        }
      }
    }
    return area > 0 ? shared / area : 0;
  });
}

/** See SynthAnnotation.backgroundSimilarity. */
export function backgroundSimilarity(mask: MaskRegion, aLow: Float32Array, aHigh: Float32Array, width: number, height: number): number {
  const ext = maskExtent(mask);
  if (!ext) return 0;
  const area = maskArea(mask);
  const grow = Math.max(3, Math.round(0.15 * Math.sqrt(area)));
  const x0 = Math.max(0, ext[0] - grow);
  const y0 = Math.max(0, ext[1] - grow);
  const x1 = Math.min(width - 1, ext[2] + grow);
  const y1 = Math.min(height - 1, ext[3] + grow);
  let inL = 0, inH = 0, nIn = 0, outL = 0, outH = 0, nOut = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const mx = x - mask.x0;
      const my = y - mask.y0;
      const inside = mx >= 0 && my >= 0 && mx < mask.w && my < mask.h && mask.data[my * mask.w + mx] === 1;
      const i = y * width + x;
      if (inside) {
        inL += aLow[i] as number;
        inH += aHigh[i] as number;
        nIn++;
      } else {
        outL += aLow[i] as number;
        outH += aHigh[i] as number;
        nOut++;
      }
    }
  }
  if (nIn === 0 || nOut === 0) return 0;
  const c = (a: number, b: number): number => (Math.max(a, b) > 0 ? Math.abs(a - b) / Math.max(a, b) : 0);
  const contrast = Math.max(c(inL / nIn, outL / nOut), c(inH / nIn, outH / nOut));
  return 1 - contrast;
}

/** Annotations for the rendered masks (objects with an empty mask are dropped). */
export function annotate(categoryIds: readonly number[], masks: readonly MaskRegion[], aLow: Float32Array, aHigh: Float32Array, width: number, height: number): SynthAnnotation[] {
  const overlaps = overlapRatios(masks, width, height);
  const out: SynthAnnotation[] = [];
  masks.forEach((m, i) => {
    const ext = maskExtent(m);
    if (!ext) return;
    out.push({
      categoryId: categoryIds[i] as number,
      bbox: [ext[0], ext[1], ext[2] - ext[0] + 1, ext[3] - ext[1] + 1],
      maskArea: maskArea(m),
      overlap: overlaps[i] as number,
      backgroundSimilarity: backgroundSimilarity(m, aLow, aHigh, width, height),
    });
  });
  return out;
}
