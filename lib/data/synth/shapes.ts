// Parametric primitives and their projected thickness (the path length of the
// X-ray through the object). Each primitive is plain data in pixel coordinates;
// `rasterize` adds μ_low·t and μ_high·t to the two line-integral maps and marks
// the object's mask, visiting only pixels inside the primitive's bounding box.
// Pixel (x, y) is sampled at its centre (x + 0.5, y + 0.5).
//
// Thickness along the beam is in mm. The in-plane geometry is in px; objects of
// revolution (bottles, cans, cables) have depth equal to their width, so their
// chords are converted with the scene's mm-per-pixel scale.
import { materialIndex, type MaterialName } from './materials.js';

/** Constant-thickness slab with an even-odd filled outline (rings = holes allowed). */
export interface PolygonPrim {
  kind: 'polygon';
  /** Each ring is a flat [x0, y0, x1, y1, ...] list in px. */
  rings: number[][];
  /** mm along the beam. */
  thickness: number;
  material: MaterialName;
  /** Optional linear taper: thickness × clamp(gx·x + gy·y + g0, gmin, 1) (knife bevels). */
  taper?: { gx: number; gy: number; g0: number; gmin: number };
  /** More layers with the same outline (e.g. a bag's shell and bottom board): one pass for all. */
  layers?: { material: MaterialName; thickness: number }[];
}

/**
 * Solid of revolution lying in the image plane (bottle, can, cup, pen): axis
 * through (cx, cy) at `angle`; radius tables sampled every px along the axis,
 * from u = −len/2 to +len/2. The wall is between rInner and rOuter; `cap[k]`
 * fills the inside of sample k (bottoms, lids, caps) with that fraction of
 * material. `fill`: liquid inside the wall below the plane z = level (px,
 * relative to the axis; the bag lies on the belt and the beam is vertical, so
 * a partly filled container's liquid lies in the lower part of its cross-section).
 */
export interface RevolvedPrim {
  kind: 'revolved';
  cx: number;
  cy: number;
  angle: number;
  rOuter: Float32Array;
  rInner: Float32Array;
  cap: Float32Array;
  material: MaterialName;
  fill?: { material: MaterialName; level: number; density: number };
}

/** Round tube along a polyline (cables, rails, zippers); a shell when inner > 0. */
export interface TubePrim {
  kind: 'tube';
  pts: number[];
  radius: number;
  inner: number;
  material: MaterialName;
  /** Fraction of the tube volume that is material (a zipper's teeth: ~0.4). */
  density: number;
}

/** Ellipsoid with in-plane semi-axes a, b (px) and half depth c (mm). */
export interface EllipsoidPrim {
  kind: 'ellipsoid';
  cx: number;
  cy: number;
  angle: number;
  a: number;
  b: number;
  c: number;
  material: MaterialName;
}

export type Primitive = PolygonPrim | RevolvedPrim | TubePrim | EllipsoidPrim;

/** Where rasterisation writes: the two line-integral maps Σμ·t (dimensionless). */
export interface RasterTarget {
  width: number;
  height: number;
  mmPerPx: number;
  /** μ in 1/mm per material index (MATERIAL_NAMES order), low and high energy. */
  muLow: Float64Array;
  muHigh: Float64Array;
  aLow: Float32Array;
  aHigh: Float32Array;
}

/** An object's footprint over its bounding box (x0, y0, w, h) in image pixels. */
export interface MaskRegion {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Uint8Array;
}

export type Bounds = [x0: number, y0: number, x1: number, y1: number];

function rotatedRectBounds(cx: number, cy: number, angle: number, hu: number, hv: number): Bounds {
  const c = Math.abs(Math.cos(angle));
  const s = Math.abs(Math.sin(angle));
  const ex = hu * c + hv * s;
  const ey = hu * s + hv * c;
  return [cx - ex, cy - ey, cx + ex, cy + ey];
}

function maxOf(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if ((a[i] as number) > m) m = a[i] as number;
  return m;
}

/** Axis-aligned bounds of a primitive's footprint (px, not clipped). */
export function primitiveBounds(p: Primitive): Bounds {
  switch (p.kind) {
    case 'polygon': {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const ring of p.rings) {
        for (let i = 0; i < ring.length; i += 2) {
          const x = ring[i] as number;
          const y = ring[i + 1] as number;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
      return [x0, y0, x1, y1];
    }
    case 'revolved':
      return rotatedRectBounds(p.cx, p.cy, p.angle, p.rOuter.length / 2, maxOf(p.rOuter));
    case 'tube': {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (let i = 0; i < p.pts.length; i += 2) {
        const x = p.pts[i] as number;
        const y = p.pts[i + 1] as number;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      return [x0 - p.radius, y0 - p.radius, x1 + p.radius, y1 + p.radius];
    }
    case 'ellipsoid':
      return rotatedRectBounds(p.cx, p.cy, p.angle, p.a, p.b);
  }
}

export function unionBounds(list: readonly Bounds[]): Bounds {
  const b: Bounds = [Infinity, Infinity, -Infinity, -Infinity];
  for (const o of list) {
    if (o[0] < b[0]) b[0] = o[0];
    if (o[1] < b[1]) b[1] = o[1];
    if (o[2] > b[2]) b[2] = o[2];
    if (o[3] > b[3]) b[3] = o[3];
  }
  return b;
}

/** The primitive moved by (dx, dy) px. */
export function translatePrimitive(p: Primitive, dx: number, dy: number): Primitive {
  switch (p.kind) {
    case 'polygon':
      return { ...p, rings: p.rings.map((r) => r.map((v, i) => v + (i % 2 === 0 ? dx : dy))), ...(p.taper ? { taper: { ...p.taper, g0: p.taper.g0 - p.taper.gx * dx - p.taper.gy * dy } } : {}) };
    case 'tube':
      return { ...p, pts: p.pts.map((v, i) => v + (i % 2 === 0 ? dx : dy)) };
    case 'revolved':
    case 'ellipsoid':
      return { ...p, cx: p.cx + dx, cy: p.cy + dy };
  }
}

// Scratch for polygon crossings (re-used; rasterisation is single-threaded per worker).
let crossings = new Float64Array(64);

function markMask(mask: MaskRegion | undefined, x: number, y: number): void {
  if (!mask) return;
  const mx = x - mask.x0;
  const my = y - mask.y0;
  if (mx >= 0 && my >= 0 && mx < mask.w && my < mask.h) mask.data[my * mask.w + mx] = 1;
}

function rasterizePolygon(p: PolygonPrim, t: RasterTarget, mask?: MaskRegion): void {
  const [bx0, by0, bx1, by1] = primitiveBounds(p);
  const W = t.width;
  const yStart = Math.max(0, Math.floor(by0));
  const yEnd = Math.min(t.height - 1, Math.ceil(by1));
  const m = materialIndex(p.material);
  let kL = (t.muLow[m] as number) * p.thickness;
  let kH = (t.muHigh[m] as number) * p.thickness;
  for (const layer of p.layers ?? []) {
    const lm = materialIndex(layer.material);
    kL += (t.muLow[lm] as number) * layer.thickness;
    kH += (t.muHigh[lm] as number) * layer.thickness;
  }
  const aL = t.aLow;
  const aH = t.aHigh;
  const taper = p.taper;
  if (bx1 < 0 || bx0 > W) return;
  for (let y = yStart; y <= yEnd; y++) {
    const yc = y + 0.5;
    let n = 0;
    for (const ring of p.rings) {
      const len = ring.length;
      for (let i = 0; i < len; i += 2) {
        const x0 = ring[i] as number;
        const y0 = ring[i + 1] as number;
        const j = i + 2 < len ? i + 2 : 0;
        const x1 = ring[j] as number;
        const y1 = ring[j + 1] as number;
        if (y0 <= yc !== y1 <= yc) {
          if (n >= crossings.length) {
            const grown = new Float64Array(crossings.length * 2);
            grown.set(crossings);
            crossings = grown;
          }
          crossings[n++] = x0 + ((yc - y0) * (x1 - x0)) / (y1 - y0);
        }
      }
    }
    // insertion sort: n is small
    for (let i = 1; i < n; i++) {
      const v = crossings[i] as number;
      let k = i - 1;
      while (k >= 0 && (crossings[k] as number) > v) {
        crossings[k + 1] = crossings[k] as number;
        k--;
      }
      crossings[k + 1] = v;
    }
    const row = y * W;
    for (let i = 0; i + 1 < n; i += 2) {
      let xs = Math.ceil((crossings[i] as number) - 0.5);
      let xe = Math.ceil((crossings[i + 1] as number) - 0.5);
      if (xs < 0) xs = 0;
      if (xe > W) xe = W;
      if (taper) {
        for (let x = xs; x < xe; x++) {
          let f = taper.gx * (x + 0.5) + taper.gy * yc + taper.g0;
          if (f > 1) f = 1;
          else if (f < taper.gmin) f = taper.gmin;
          aL[row + x]! += kL * f;
          aH[row + x]! += kH * f;
        }
      } else {
        for (let x = xs; x < xe; x++) {
          aL[row + x]! += kL;
          aH[row + x]! += kH;
        }
      }
      if (mask) {
        const my = y - mask.y0;
        if (my >= 0 && my < mask.h) {
          const a = Math.max(xs, mask.x0);
          const b = Math.min(xe, mask.x0 + mask.w);
          const base = my * mask.w - mask.x0;
          for (let x = a; x < b; x++) mask.data[base + x] = 1;
        }
      }
    }
  }
}

function clipBox(b: Bounds, t: RasterTarget): [number, number, number, number] {
  return [Math.max(0, Math.floor(b[0])), Math.max(0, Math.floor(b[1])), Math.min(t.width - 1, Math.ceil(b[2])), Math.min(t.height - 1, Math.ceil(b[3]))];
}

/**
 * Pixel columns [xs, xe] of row y (clipped to [x0, x1]) whose centres may lie
 * in the rotated rectangle |u| ≤ hu, |v| ≤ hv around (cx, cy) — with a 1 px
 * margin; callers still test each pixel exactly, this only skips the empty
 * corners of the bounding box.
 */
function rotatedSpan(y: number, cx: number, cy: number, c: number, s: number, hu: number, hv: number, x0: number, x1: number): [number, number] {
  const dy = y + 0.5 - cy;
  let lo = -Infinity;
  let hi = Infinity;
  // u = c·X + s·dy, v = −s·X + c·dy with X = x + 0.5 − cx
  const limit = (a: number, b: number, h: number): void => {
    if (Math.abs(a) < 1e-9) {
      if (Math.abs(b) > h) hi = -Infinity;
      return;
    }
    const p = (-h - b) / a;
    const q = (h - b) / a;
    lo = Math.max(lo, Math.min(p, q));
    hi = Math.min(hi, Math.max(p, q));
  };
  limit(c, s * dy, hu);
  limit(-s, c * dy, hv);
  if (!(hi >= lo)) return [1, 0];
  return [Math.max(x0, Math.floor(lo - 0.5 + cx) - 1), Math.min(x1, Math.ceil(hi - 0.5 + cx) + 1)];
}

function rasterizeRevolved(p: RevolvedPrim, t: RasterTarget, mask?: MaskRegion): void {
  const [x0, y0, x1, y1] = clipBox(primitiveBounds(p), t);
  const n = p.rOuter.length;
  const half = n / 2;
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const m = materialIndex(p.material);
  const scale = t.mmPerPx;
  const kL = (t.muLow[m] as number) * scale;
  const kH = (t.muHigh[m] as number) * scale;
  const fill = p.fill;
  const fm = fill ? materialIndex(fill.material) : 0;
  const fL = fill ? (t.muLow[fm] as number) * scale * fill.density : 0;
  const fH = fill ? (t.muHigh[fm] as number) * scale * fill.density : 0;
  const level = fill ? fill.level : 0;
  const rO = p.rOuter;
  const rI = p.rInner;
  const cap = p.cap;
  const W = t.width;
  const rMax = maxOf(rO);
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - p.cy;
    const [xs, xe] = rotatedSpan(y, p.cx, p.cy, c, s, half, rMax, x0, x1);
    for (let x = xs; x <= xe; x++) {
      const dx = x + 0.5 - p.cx;
      const k = Math.floor(dx * c + dy * s + half);
      if (k < 0 || k >= n) continue;
      const v = -dx * s + dy * c;
      const v2 = v * v;
      const r = rO[k] as number;
      if (v2 >= r * r) continue;
      const outer = Math.sqrt(r * r - v2);
      const ri = rI[k] as number;
      const inner = v2 < ri * ri ? Math.sqrt(ri * ri - v2) : 0;
      const cf = cap[k] as number;
      const wall = 2 * (outer - inner) + 2 * cf * inner;
      let aL = kL * wall;
      let aH = kH * wall;
      if (fill && inner > 0 && cf < 1) {
        const top = inner < level ? inner : level;
        const liquid = (top + inner) * (1 - cf);
        if (liquid > 0) {
          aL += fL * liquid;
          aH += fH * liquid;
        }
      }
      const i = y * W + x;
      t.aLow[i]! += aL;
      t.aHigh[i]! += aH;
      if (mask) markMask(mask, x, y);
    }
  }
}

function rasterizeTube(p: TubePrim, t: RasterTarget, mask?: MaskRegion): void {
  const pts = p.pts;
  const nSeg = pts.length / 2 - 1;
  const r2 = p.radius * p.radius;
  const ri2 = p.inner * p.inner;
  const m = materialIndex(p.material);
  const k = t.mmPerPx * p.density * 2;
  const kL = (t.muLow[m] as number) * k;
  const kH = (t.muHigh[m] as number) * k;
  const W = t.width;
  for (let sIdx = 0; sIdx < nSeg; sIdx++) {
    const ax = pts[2 * sIdx] as number;
    const ay = pts[2 * sIdx + 1] as number;
    const bx = pts[2 * sIdx + 2] as number;
    const by = pts[2 * sIdx + 3] as number;
    const ex = bx - ax;
    const ey = by - ay;
    const el2 = ex * ex + ey * ey || 1e-12;
    const first = sIdx === 0;
    const last = sIdx === nSeg - 1;
    const [x0, y0, x1, y1] = clipBox([Math.min(ax, bx) - p.radius, Math.min(ay, by) - p.radius, Math.max(ax, bx) + p.radius, Math.max(ay, by) + p.radius], t);
    for (let y = y0; y <= y1; y++) {
      const py = y + 0.5 - ay;
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax;
        let u = (px * ex + py * ey) / el2;
        if (u < 0) {
          if (!first) continue;
          u = 0;
        } else if (u >= 1) {
          if (!last) continue;
          u = 1;
        }
        const qx = px - u * ex;
        const qy = py - u * ey;
        const d2 = qx * qx + qy * qy;
        if (d2 >= r2) continue;
        let chord = Math.sqrt(r2 - d2);
        if (d2 < ri2) chord -= Math.sqrt(ri2 - d2);
        const i = y * W + x;
        t.aLow[i]! += kL * chord;
        t.aHigh[i]! += kH * chord;
        if (mask) markMask(mask, x, y);
      }
    }
  }
}

function rasterizeEllipsoid(p: EllipsoidPrim, t: RasterTarget, mask?: MaskRegion): void {
  const [x0, y0, x1, y1] = clipBox(primitiveBounds(p), t);
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const ia2 = 1 / (p.a * p.a);
  const ib2 = 1 / (p.b * p.b);
  const m = materialIndex(p.material);
  const kL = (t.muLow[m] as number) * 2 * p.c;
  const kH = (t.muHigh[m] as number) * 2 * p.c;
  const W = t.width;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - p.cy;
    const [xs, xe] = rotatedSpan(y, p.cx, p.cy, c, s, p.a, p.b, x0, x1);
    for (let x = xs; x <= xe; x++) {
      const dx = x + 0.5 - p.cx;
      const u = dx * c + dy * s;
      const v = -dx * s + dy * c;
      const q = 1 - u * u * ia2 - v * v * ib2;
      if (q <= 0) continue;
      const f = Math.sqrt(q);
      const i = y * W + x;
      t.aLow[i]! += kL * f;
      t.aHigh[i]! += kH * f;
      if (mask) markMask(mask, x, y);
    }
  }
}

/** Adds the primitive's μ·t to both maps; marks covered pixels (t > 0) in `mask`. */
export function rasterize(p: Primitive, target: RasterTarget, mask?: MaskRegion): void {
  switch (p.kind) {
    case 'polygon':
      return rasterizePolygon(p, target, mask);
    case 'revolved':
      return rasterizeRevolved(p, target, mask);
    case 'tube':
      return rasterizeTube(p, target, mask);
    case 'ellipsoid':
      return rasterizeEllipsoid(p, target, mask);
  }
}
