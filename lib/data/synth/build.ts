// Helpers that turn object descriptions in millimetres (an object's own frame:
// u along its length, v across) into pixel-space primitives.
import type { MaterialName } from './materials.js';
import type { PolygonPrim, RevolvedPrim, TubePrim, EllipsoidPrim } from './shapes.js';

/** An object's pose: centre (px), rotation (rad) and scale (px per mm). */
export interface Frame {
  cx: number;
  cy: number;
  angle: number;
  pxPerMm: number;
}

export function toPx(f: Frame, u: number, v: number): [number, number] {
  const c = Math.cos(f.angle);
  const s = Math.sin(f.angle);
  return [f.cx + (u * c - v * s) * f.pxPerMm, f.cy + (u * s + v * c) * f.pxPerMm];
}

function ringPx(f: Frame, ptsMm: readonly number[]): number[] {
  const out = new Array<number>(ptsMm.length);
  for (let i = 0; i < ptsMm.length; i += 2) {
    const [x, y] = toPx(f, ptsMm[i] as number, ptsMm[i + 1] as number);
    out[i] = x;
    out[i + 1] = y;
  }
  return out;
}

/** Slab of `thicknessMm` over the polygon(s) given in mm (even-odd: later rings cut holes). */
export function slab(f: Frame, ringsMm: readonly (readonly number[])[], thicknessMm: number, material: MaterialName, bevel?: { fromV: number; toV: number; min: number }): PolygonPrim {
  const p: PolygonPrim = { kind: 'polygon', rings: ringsMm.map((r) => ringPx(f, r)), thickness: thicknessMm, material };
  if (bevel) {
    // thickness factor 1 at v = fromV falling linearly to `min` at v = toV (in the object frame)
    const c = Math.cos(f.angle);
    const s = Math.sin(f.angle);
    const span = (bevel.toV - bevel.fromV) * f.pxPerMm;
    // v(x, y) in px relative to frame centre: −(x−cx)·s + (y−cy)·c
    const gx = s / span;
    const gy = -c / span;
    const g0 = 1 - gx * f.cx - gy * f.cy + (bevel.fromV * f.pxPerMm) / span;
    p.taper = { gx, gy, g0, gmin: bevel.min };
  }
  return p;
}

export function ellipsePts(rx: number, ry: number, n = 24, ox = 0, oy = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    out.push(ox + rx * Math.cos(a), oy + ry * Math.sin(a));
  }
  return out;
}

export function roundedRectPts(w: number, h: number, r: number, ox = 0, oy = 0, perCorner = 4): number[] {
  const out: number[] = [];
  const rr = Math.min(r, w / 2, h / 2);
  const corners: [number, number, number][] = [
    [w / 2 - rr, h / 2 - rr, 0],
    [-w / 2 + rr, h / 2 - rr, Math.PI / 2],
    [-w / 2 + rr, -h / 2 + rr, Math.PI],
    [w / 2 - rr, -h / 2 + rr, (3 * Math.PI) / 2],
  ];
  for (const [cx, cy, a0] of corners) {
    for (let i = 0; i <= perCorner; i++) {
      const a = a0 + (i / perCorner) * (Math.PI / 2);
      out.push(ox + cx + rr * Math.cos(a), oy + cy + rr * Math.sin(a));
    }
  }
  return out;
}

/** A profile segment of a solid of revolution: `len` mm long, radius r0 → r1 mm. */
export interface ProfileSegment {
  len: number;
  r0: number;
  r1: number;
}

/** Volume fraction → liquid level (relative to the axis, in units of R) for a lying cylinder of radius 1. */
export function levelForFraction(fraction: number): number {
  if (fraction >= 1) return 1e9;
  if (fraction <= 0) return -1e9;
  // area of the circular segment of depth h (R = 1): acos(1 − h) − (1 − h)·sqrt(2h − h²), over π
  let lo = 0;
  let hi = 2;
  for (let i = 0; i < 40; i++) {
    const h = (lo + hi) / 2;
    const a = (Math.acos(1 - h) - (1 - h) * Math.sqrt(Math.max(0, 2 * h - h * h))) / Math.PI;
    if (a < fraction) lo = h;
    else hi = h;
  }
  return (lo + hi) / 2 - 1;
}

export interface RevolvedSpec {
  /** Start of the profile along the object's u axis (mm). */
  u0: number;
  profile: readonly ProfileSegment[];
  wall: number;
  material: MaterialName;
  /** Solid end thickness (mm) at the start and the end of the profile (bottom, lid). */
  caps?: [number, number];
  /** Liquid: volume fraction of the inside and its material. */
  fill?: { material: MaterialName; fraction: number; density?: number };
}

export function revolved(f: Frame, spec: RevolvedSpec): RevolvedPrim {
  const k = f.pxPerMm;
  let total = 0;
  for (const s of spec.profile) total += s.len;
  const n = Math.max(2, Math.round(total * k));
  const rOuter = new Float32Array(n);
  const rInner = new Float32Array(n);
  const cap = new Float32Array(n);
  const [c0, c1] = spec.caps ?? [0, 0];
  let seg = 0;
  let segStart = 0;
  let rMaxInner = 0;
  for (let j = 0; j < n; j++) {
    const u = ((j + 0.5) / n) * total;
    while (seg < spec.profile.length - 1 && u > segStart + (spec.profile[seg] as ProfileSegment).len) {
      segStart += (spec.profile[seg] as ProfileSegment).len;
      seg++;
    }
    const s = spec.profile[seg] as ProfileSegment;
    const t = Math.min(1, Math.max(0, (u - segStart) / s.len));
    const r = s.r0 + (s.r1 - s.r0) * t;
    rOuter[j] = r * k;
    rInner[j] = Math.max(0, r - spec.wall) * k;
    if (rInner[j]! > rMaxInner) rMaxInner = rInner[j]!;
    const uPx0 = j / k;
    const uPx1 = (j + 1) / k;
    // fraction of this sample covered by the solid ends [0, c0] and [total − c1, total]
    const a = Math.max(0, Math.min(uPx1, c0) - uPx0) / (uPx1 - uPx0);
    const b = Math.max(0, uPx1 - Math.max(uPx0, total - c1)) / (uPx1 - uPx0);
    cap[j] = Math.min(1, a + b);
  }
  const [cx, cy] = toPx(f, spec.u0 + total / 2, 0);
  const prim: RevolvedPrim = { kind: 'revolved', cx, cy, angle: f.angle, rOuter, rInner, cap, material: spec.material };
  if (spec.fill && spec.fill.fraction > 0) {
    prim.fill = { material: spec.fill.material, level: levelForFraction(spec.fill.fraction) * rMaxInner, density: spec.fill.density ?? 1 };
  }
  return prim;
}

export function tube(f: Frame, ptsMm: readonly number[], radiusMm: number, material: MaterialName, opts: { innerMm?: number; density?: number } = {}): TubePrim {
  return { kind: 'tube', pts: ringPx(f, ptsMm), radius: radiusMm * f.pxPerMm, inner: (opts.innerMm ?? 0) * f.pxPerMm, material, density: opts.density ?? 1 };
}

export function ellipsoid(f: Frame, u: number, v: number, aMm: number, bMm: number, cMm: number, material: MaterialName, angle = 0): EllipsoidPrim {
  const [cx, cy] = toPx(f, u, v);
  return { kind: 'ellipsoid', cx, cy, angle: f.angle + angle, a: aMm * f.pxPerMm, b: bMm * f.pxPerMm, c: cMm, material };
}

/** A sub-frame at (u, v) mm of `f`, rotated by `angle` more. */
export function subFrame(f: Frame, u: number, v: number, angle = 0): Frame {
  const [cx, cy] = toPx(f, u, v);
  return { cx, cy, angle: f.angle + angle, pxPerMm: f.pxPerMm };
}
