// The 12 CLCXray classes as parametric objects. Each builder draws sizes,
// proportions, materials and fill level from the PRNG and returns primitives
// centred on the frame (u along the object's length). Dimensions are in mm and
// follow everyday items (a 330 ml can is 66 mm × 115 mm, a utility-knife blade
// 18 mm × 100 mm × 0.6 mm, ...).
import { CLCXRAY_CLASSES } from '../../clcxray.js';
import type { Rng } from '../random.js';
import type { MaterialName } from './materials.js';
import type { Primitive } from './shapes.js';
import { ellipsePts, ellipsoid, revolved, roundedRectPts, slab, subFrame, type Frame, type ProfileSegment } from './build.js';

/** CLCXray categories, ids 1..12 in the dataset's order. */
export const CATEGORIES = CLCXRAY_CLASSES;

export type CategoryName = (typeof CATEGORIES)[number];

export type ObjectBuilder = (rng: Rng, f: Frame) => Primitive[];

function liquidFraction(rng: Rng, lo: number, hi: number): number {
  return rng.chance(0.3) ? 1 : rng.range(lo, hi);
}

function blade(rng: Rng, f: Frame): Primitive[] {
  const out: Primitive[] = [];
  if (rng.chance(0.6)) {
    // snap-off utility-knife blade: parallelogram with 30° ends and a notch
    const w = rng.chance(0.5) ? 18 : 9;
    const L = w === 18 ? rng.range(90, 110) : rng.range(70, 85);
    const sh = w * 0.58;
    const outline = [-L / 2, -w / 2, L / 2 - sh, -w / 2, L / 2, w / 2, -L / 2 + sh, w / 2];
    const notch = ellipsePts(w * 0.12, w * 0.2, 8, -L / 2 + sh + 3, -w * 0.1);
    out.push(slab(f, [outline, notch], w === 18 ? 0.6 : 0.4, 'iron', { fromV: 0, toV: w / 2, min: 0.5 }));
    if (rng.chance(0.5)) {
      // in its plastic cutter body, the blade half out
      const bodyL = L * rng.range(1.1, 1.4);
      out.push(slab(subFrame(f, -L / 2 - bodyL / 2 + L * 0.45, 0), [roundedRectPts(bodyL, w + 8, 3)], rng.range(12, 18), 'polyethylene'));
      out.push(slab(subFrame(f, -L / 2 - bodyL / 2 + L * 0.45, 0), [roundedRectPts(bodyL * 0.9, w + 2, 1)], 0.8, 'iron'));
    }
  } else {
    // double-edged razor blade with the slotted centre
    const L = rng.range(40, 45);
    const w = 22;
    const slot = [-L * 0.3, -1.2, L * 0.3, -1.2, L * 0.3, 1.2, -L * 0.3, 1.2];
    out.push(slab(f, [roundedRectPts(L, w, 1.5), slot, ellipsePts(2.5, 2.5, 8, -L * 0.3, 0), ellipsePts(2.5, 2.5, 8, L * 0.3, 0)], 0.25, 'iron'));
  }
  return out;
}

function dagger(rng: Rng, f: Frame): Primitive[] {
  const L = rng.range(110, 200);
  const w = rng.range(24, 36);
  const handle = rng.range(90, 120);
  const start = -(L + handle) / 2 + handle;
  // each half of the double-edged blade bevels from the midline to its edge
  const t = rng.range(3, 4.5);
  const upper = [start, -w / 2, start + L * 0.7, -w * 0.42, start + L, 0, start, 0];
  const lower = upper.map((v, i) => (i % 2 === 1 ? -v : v));
  const out: Primitive[] = [
    slab(f, [upper], t, 'iron', { fromV: 0, toV: -w / 2, min: 0.25 }),
    slab(f, [lower], t, 'iron', { fromV: 0, toV: w / 2, min: 0.25 }),
  ];
  const guardW = w + rng.range(20, 40);
  out.push(slab(f, [roundedRectPts(rng.range(8, 12), guardW, 2, start - 4, 0)], rng.range(8, 12), 'iron'));
  const handleMat: MaterialName = rng.pick(['wood', 'rubber', 'polyethylene']);
  out.push(slab(f, [roundedRectPts(handle - 8, rng.range(20, 26), 6, start - 8 - (handle - 8) / 2, 0)], rng.range(16, 24), handleMat));
  out.push(slab(f, [[start - 8, -4, start - handle + 4, -3, start - handle + 4, 3, start - 8, 4]], 4, 'iron'));
  out.push(ellipsoid(f, start - handle + 2, 0, 8, 12, 10, 'iron'));
  return out;
}

function knife(rng: Rng, f: Frame): Primitive[] {
  const L = rng.range(120, 220);
  const h = rng.range(24, 46);
  const handle = rng.range(95, 125);
  const x0 = -(L + handle) / 2 + handle;
  // spine along v = −h/2, edge curving up to the tip
  const blade = [x0, -h / 2, x0 + L, -h / 2 + h * 0.08, x0 + L * 0.85, -h * 0.05, x0 + L * 0.6, h * 0.35, x0 + L * 0.25, h / 2, x0, h / 2];
  const out: Primitive[] = [slab(f, [blade], rng.range(1.6, 2.5), 'iron', { fromV: -h / 2 + h * 0.25, toV: h / 2, min: 0.3 })];
  const hw = rng.range(18, 24);
  const hMat: MaterialName = rng.pick(['wood', 'polyethylene', 'rubber', 'pet']);
  out.push(slab(f, [roundedRectPts(handle, hw, 7, x0 - handle / 2, -h / 2 + hw / 2)], rng.range(14, 20), hMat));
  if (rng.chance(0.7)) {
    // full tang with rivets
    out.push(slab(f, [roundedRectPts(handle - 10, hw - 6, 3, x0 - handle / 2 + 2, -h / 2 + hw / 2)], 2, 'iron'));
    for (let i = 0; i < 3; i++) out.push(ellipsoid(f, x0 - handle * (0.2 + 0.3 * i), -h / 2 + hw / 2, 2.5, 2.5, 8, 'iron'));
  }
  return out;
}

function scissors(rng: Rng, f: Frame): Primitive[] {
  const L = rng.range(80, 120);
  const open = rng.range(0.02, 0.35);
  const out: Primitive[] = [];
  const metalHandles = rng.chance(0.3);
  for (const side of [-1, 1]) {
    const g = subFrame(f, 0, 0, side * open);
    const bw = rng.range(9, 13);
    // one blade, drawn for side = +1 and mirrored across the axis for side = −1:
    // straight back, edge curving to the tip, a short tang past the pivot
    const blade = [0, -bw / 2, L * 0.7, -bw * 0.4, L, 1, L * 0.6, bw * 0.3, -8, bw / 2, -8, -bw / 2];
    out.push(slab(g, [blade.map((v, i) => (i % 2 === 1 ? v * side : v))], 2, 'iron', { fromV: 0, toV: (side * bw) / 2, min: 0.4 }));
    const lw = rng.range(30, 42);
    const lh = rng.range(20, 28);
    const loopC = -10 - lw / 2;
    const offV = side * lh * 0.45;
    if (metalHandles) {
      out.push(slab(g, [ellipsePts(lw / 2, lh / 2, 20, loopC, offV), ellipsePts(lw / 2 - 4, lh / 2 - 4, 20, loopC, offV)], 2.5, 'iron'));
    } else {
      out.push(slab(g, [ellipsePts(lw / 2, lh / 2, 20, loopC, offV), ellipsePts(lw / 2 - 6, lh / 2 - 5, 20, loopC, offV)], rng.range(7, 10), 'polyethylene'));
      out.push(slab(g, [[-4, -2, -14, offV - 2, -14, offV + 2, -4, 2]], 2, 'iron'));
    }
  }
  out.push(ellipsoid(f, 0, 0, 3.5, 3.5, 3, 'iron'));
  return out;
}

function swissArmyKnife(rng: Rng, f: Frame): Primitive[] {
  const L = rng.pick([58, 84, 91, 91, 111]);
  const w = L < 60 ? 18 : L > 100 ? 32 : 26;
  const layers = rng.int(2, 5);
  const out: Primitive[] = [
    slab(f, [roundedRectPts(L, w, w * 0.45)], 2 * rng.range(1.8, 2.5), 'pet'),
    slab(f, [roundedRectPts(L - 3, w - 3, w * 0.4)], layers * 1.1, 'iron'),
    slab(f, [roundedRectPts(L - 3, w - 3, w * 0.4)], (layers + 1) * 0.5, 'aluminium'),
  ];
  for (const u of [-L * 0.4, L * 0.4]) out.push(ellipsoid(f, u, 0, 2, 2, w * 0.3, 'iron'));
  if (rng.chance(0.35)) {
    // one blade opened
    const bl = L * 0.75;
    const g = subFrame(f, L / 2 - 4, w * 0.2, rng.range(-0.3, 0.2));
    out.push(slab(g, [[0, -6, bl * 0.8, -6, bl, 0, bl * 0.7, 5, 0, 6]], 1.5, 'iron', { fromV: -3, toV: 6, min: 0.3 }));
  }
  if (rng.chance(0.3)) out.push(slab(f, [ellipsePts(9, 9, 16, -L / 2 - 7, 0), ellipsePts(8, 8, 16, -L / 2 - 7, 0)], 1.5, 'iron'));
  return out;
}

function cans(rng: Rng, f: Frame): Primitive[] {
  const slim = rng.chance(0.3);
  const r = slim ? 29 : 33;
  const L = slim ? rng.range(140, 168) : rng.range(92, 122);
  const profile: ProfileSegment[] = [
    { len: 6, r0: r - 6, r1: r },
    { len: L - 14, r0: r, r1: r },
    { len: 8, r0: r, r1: r - 5 },
  ];
  const fill = rng.chance(0.1) ? 0 : liquidFraction(rng, 0.6, 1);
  return [revolved(f, { u0: -L / 2, profile, wall: 0.12, material: 'aluminium', caps: [0.3, 0.35], fill: { material: 'water', fraction: fill } })];
}

function cartonDrinks(rng: Rng, f: Frame): Primitive[] {
  const size = rng.pick([
    [100, 40, 63],
    [120, 50, 60],
    [195, 60, 95],
    [170, 70, 70],
  ] as const);
  const [L, a, b] = size;
  const flat = rng.chance(0.5);
  const w = flat ? b : a;
  const depth = flat ? a : b;
  const fill = liquidFraction(rng, 0.5, 1);
  const out: Primitive[] = [
    slab(f, [roundedRectPts(L, w, 2)], depth * fill * 0.97, 'water'),
    slab(f, [roundedRectPts(L, w, 2)], 1.0, 'paper'),
    slab(f, [roundedRectPts(L, w, 2)], 0.02, 'aluminium'),
    // side walls seen edge-on: in a one-pixel ring the beam runs the full depth through
    // 0.5 mm of board, i.e. depth · 0.5 mm / (mm per pixel) averaged over the pixel
    slab(f, [roundedRectPts(L, w, 2), roundedRectPts(L - 2 / f.pxPerMm, w - 2 / f.pxPerMm, 1)], depth * 0.5 * f.pxPerMm, 'paper'),
  ];
  if (rng.chance(0.5)) {
    // screw cap or straw
    if (L > 150) out.push(revolved(subFrame(f, L / 2 - 20, 0, Math.PI / 2), { u0: -12, profile: [{ len: 24, r0: 12, r1: 12 }], wall: 2, material: 'polyethylene', caps: [0, 2] }));
    else out.push(slab(f, [[-L / 2 + 5, w / 2 - 3, L / 2 - 10, w / 2 - 6, L / 2 - 10, w / 2 - 2, -L / 2 + 5, w / 2 + 1]], 3, 'polyethylene'));
  }
  return out;
}

function glassBottle(rng: Rng, f: Frame): Primitive[] {
  const r = rng.range(26, 40);
  const L = rng.range(180, 300);
  const neckR = rng.range(11, 15);
  const body = L * rng.range(0.55, 0.68);
  const shoulder = L * rng.range(0.1, 0.18);
  const neck = L - body - shoulder;
  const wall = rng.range(2.5, 4.5);
  const profile: ProfileSegment[] = [
    { len: body, r0: r, r1: r },
    { len: shoulder, r0: r, r1: neckR },
    { len: neck - 6, r0: neckR, r1: neckR },
    { len: 6, r0: neckR + 2, r1: neckR + 2 },
  ];
  const out: Primitive[] = [revolved(f, { u0: -L / 2, profile, wall, material: 'glass', caps: [wall * 1.8, 0], fill: { material: 'water', fraction: liquidFraction(rng, 0.4, 0.95) } })];
  if (rng.chance(0.7)) {
    const capMat: MaterialName = rng.chance(0.5) ? 'aluminium' : 'iron';
    out.push(revolved(f, { u0: L / 2 - 14, profile: [{ len: 16, r0: neckR + 3, r1: neckR + 3 }], wall: capMat === 'iron' ? 0.3 : 0.5, material: capMat, caps: [0, capMat === 'iron' ? 0.3 : 0.5] }));
  }
  return out;
}

function plasticBottle(rng: Rng, f: Frame): Primitive[] {
  const r = rng.range(28, 46);
  const L = rng.range(r * 4, r * 7.5);
  const neckR = 13.5;
  const body = L * rng.range(0.6, 0.75);
  const shoulder = L - body - 22;
  const profile: ProfileSegment[] = [
    { len: 8, r0: r - 5, r1: r },
    { len: body - 8, r0: r, r1: r },
    { len: shoulder, r0: r, r1: neckR },
    { len: 22, r0: neckR, r1: neckR },
  ];
  if (rng.chance(0.4)) {
    // gripped waist
    const b1 = profile[1] as ProfileSegment;
    profile.splice(1, 1, { len: b1.len * 0.4, r0: r, r1: r }, { len: b1.len * 0.2, r0: r, r1: r * 0.85 }, { len: b1.len * 0.4, r0: r * 0.85, r1: r });
  }
  const out: Primitive[] = [revolved(f, { u0: -L / 2, profile, wall: 0.35, material: 'pet', caps: [0.8, 0], fill: { material: 'water', fraction: rng.chance(0.1) ? 0 : liquidFraction(rng, 0.2, 0.95) } })];
  out.push(revolved(f, { u0: L / 2 - 12, profile: [{ len: 16, r0: 15.5, r1: 15.5 }], wall: 1.6, material: 'polyethylene', caps: [0, 1.6] }));
  return out;
}

function vacuumCup(rng: Rng, f: Frame): Primitive[] {
  const r = rng.range(32, 42);
  const L = rng.range(170, 260);
  const lid = rng.range(35, 55);
  const bodyL = L - lid;
  const out: Primitive[] = [
    // outer and inner stainless walls with the vacuum gap between
    revolved(f, { u0: -L / 2, profile: [{ len: bodyL, r0: r, r1: r }], wall: 0.5, material: 'iron', caps: [0.6, 0] }),
    revolved(f, {
      u0: -L / 2 + 4,
      profile: [{ len: bodyL - 4, r0: r - 3.5, r1: r - 3.5 }],
      wall: 0.4,
      material: 'iron',
      caps: [0.5, 0],
      fill: { material: 'water', fraction: rng.chance(0.3) ? 0 : rng.range(0.3, 1) },
    }),
    revolved(f, { u0: L / 2 - lid, profile: [{ len: lid, r0: r + 0.5, r1: r + 0.5 }], wall: 2.5, material: 'polyethylene', caps: [3, 3] }),
  ];
  if (rng.chance(0.5)) out.push(revolved(f, { u0: L / 2 - lid + 5, profile: [{ len: lid * 0.6, r0: r - 6, r1: r - 6 }], wall: 1.5, material: 'polyethylene', caps: [2, 0] }));
  return out;
}

function sprayCans(rng: Rng, f: Frame): Primitive[] {
  const r = rng.range(22, 33);
  const L = rng.range(120, 210);
  const steel = rng.chance(0.5);
  const dome = r * 0.45;
  const body = L - dome - 8;
  const out: Primitive[] = [
    revolved(f, {
      u0: -L / 2,
      profile: [
        { len: body, r0: r, r1: r },
        { len: dome, r0: r, r1: r * 0.35 },
        { len: 8, r0: 3, r1: 3 },
      ],
      wall: steel ? 0.25 : 0.45,
      material: steel ? 'iron' : 'aluminium',
      caps: [steel ? 0.3 : 0.6, 2],
      fill: { material: 'water', fraction: rng.range(0.3, 0.85), density: 0.85 },
    }),
    // dip tube and valve
    revolved(f, { u0: -L / 2 + 3, profile: [{ len: body + dome - 3, r0: 1.5, r1: 1.5 }], wall: 0.5, material: 'polyethylene' }),
    revolved(f, { u0: L / 2 - dome - 10, profile: [{ len: 12, r0: 5, r1: 5 }], wall: 0.6, material: 'iron', caps: [0, 1] }),
  ];
  if (rng.chance(0.7)) out.push(revolved(f, { u0: L / 2 - dome - 8, profile: [{ len: dome + 22, r0: r - 0.5, r1: r - 3 }], wall: 1.4, material: 'polyethylene', caps: [0, 1.5] }));
  return out;
}

function tin(rng: Rng, f: Frame): Primitive[] {
  // a tinplate tin lying flat (lid facing the beam): two 0.25 mm plates, the
  // side wall seen edge-on around the rim, and what is packed inside
  const height = rng.range(15, 60);
  const round = rng.chance(0.5);
  const rr = rng.range(30, 60);
  const outline = round ? ellipsePts(rr, rr, 36) : roundedRectPts(rng.range(70, 140), rng.range(50, 90), rng.range(4, 14), 0, 0, 5);
  const inset = 1.5 / f.pxPerMm;
  const shrink = (pts: number[], by: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < pts.length; i += 2) {
      const x = pts[i] as number;
      const y = pts[i + 1] as number;
      const d = Math.hypot(x, y) || 1;
      out.push(x - (x / d) * by, y - (y / d) * by);
    }
    return out;
  };
  const inner = shrink(outline, inset);
  const out: Primitive[] = [
    slab(f, [outline], 0.5, 'iron'),
    // the 0.25 mm side wall seen edge-on over a 1.5 px ring (+ the rolled double seam)
    slab(f, [outline, inner], (height * 0.25 * f.pxPerMm) / 1.5 + 0.8, 'iron'),
    slab(f, [shrink(outline, 3), shrink(outline, 4.5)], 1.2, 'iron'),
  ];
  const contents: MaterialName = rng.pick(['paper', 'water', 'cotton', 'polyethylene']);
  if (rng.chance(0.8)) out.push(slab(f, [shrink(outline, 2)], height * rng.range(0.2, 0.6) * (contents === 'cotton' ? 0.4 : 1), contents));
  return out;
}

export const OBJECT_BUILDERS: Record<CategoryName, ObjectBuilder> = {
  blade,
  dagger,
  knife,
  scissors,
  'swiss army knife': swissArmyKnife,
  cans,
  'carton drinks': cartonDrinks,
  'glass bottle': glassBottle,
  'plastic bottle': plasticBottle,
  'vacuum cup': vacuumCup,
  'spray cans': sprayCans,
  tin,
};
