// Everything in the bag that is not labelled: the bag itself (shell, walls seen
// edge-on, zipper, trolley rails, handle, wheels), clothes, cables with
// chargers, electronics and look-alike non-threat items (pens, keys, coins,
// cosmetics, belts, shoes, books, batteries, umbrellas).
import type { Rng } from '../random.js';
import type { MaterialName } from './materials.js';
import type { Primitive } from './shapes.js';
import { ellipsePts, ellipsoid, revolved, roundedRectPts, slab, subFrame, tube, type Frame } from './build.js';

/** The bag's rectangle in px and the scene scale. */
export interface BagGeometry {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  pxPerMm: number;
}

function bagFrame(bag: BagGeometry): Frame {
  return { cx: (bag.x0 + bag.x1) / 2, cy: (bag.y0 + bag.y1) / 2, angle: 0, pxPerMm: bag.pxPerMm };
}

/** Bag shell, walls, zipper, handle and (for suitcases) trolley rails and wheels. */
export function bagPrimitives(rng: Rng, bag: BagGeometry): Primitive[] {
  const f = bagFrame(bag);
  const k = bag.pxPerMm;
  const W = (bag.x1 - bag.x0) / k;
  const H = (bag.y1 - bag.y0) / k;
  const hard = rng.chance(0.45);
  const radius = Math.min(W, H) * rng.range(0.06, 0.18);
  const depth = rng.range(150, 280);
  const out: Primitive[] = [];
  const outline = roundedRectPts(W, H, radius, 0, 0, 6);
  // shell (both faces) and, for soft bags, the bottom board under the whole bag: one slab, two layers
  const shell = slab(f, [outline], hard ? rng.range(4, 6) : rng.range(1.5, 3), hard ? 'pet' : 'polyethylene');
  if (!hard) shell.layers = [{ material: 'polyethylene', thickness: rng.range(2, 4) }];
  out.push(shell);
  // side walls seen edge-on: a 4 px ring where the beam runs the bag's depth through
  // its ~1–2.5 mm wall; walls bulge, which spreads that path over about 4× the ring
  const ring = 4 / k;
  out.push(slab(f, [outline, roundedRectPts(W - 2 * ring, H - 2 * ring, Math.max(0, radius - ring), 0, 0, 6)], (depth * (hard ? 2.5 : 1.2)) / (ring * 1.0) / 4, hard ? 'pet' : 'polyethylene'));
  // zipper all around, a little inside the outline: runs of teeth (short steel tubes) with gaps
  const zi = rng.range(8, 16);
  const zpts = roundedRectPts(W - 2 * zi, H - 2 * zi, Math.max(2, radius - zi), 0, 0, 6);
  zpts.push(zpts[0] as number, zpts[1] as number);
  const zr = rng.range(2, 3);
  const zd = rng.range(0.6, 0.9);
  for (let i = 0; i + 3 < zpts.length; i += 2) {
    const ax = zpts[i] as number, ay = zpts[i + 1] as number, bx = zpts[i + 2] as number, by = zpts[i + 3] as number;
    const len = Math.hypot(bx - ax, by - ay);
    const step = 6;
    for (let d = 0; d + 4 < len; d += step) {
      const t0 = d / len;
      const t1 = Math.min(1, (d + 4.5) / len);
      out.push(tube(f, [ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1], zr, 'iron', { density: zd }));
    }
  }
  for (let i = 0; i < rng.int(1, 2); i++) {
    const j = 2 * rng.int(0, zpts.length / 2 - 2);
    const zf = subFrame(f, zpts[j] as number, zpts[j + 1] as number, rng.range(0, Math.PI));
    out.push(slab(zf, [roundedRectPts(28, 9, 3), ellipsePts(2, 4, 8, 9, 0)], 1.5, 'iron'));
  }
  // carry handle on a long side
  const side = rng.chance(0.5) ? -1 : 1;
  const hl = Math.min(W * 0.35, 160);
  out.push(slab(f, [roundedRectPts(hl, 28, 12, rng.range(-W * 0.15, W * 0.15), side * (H / 2 - 24))], rng.range(15, 25), 'polyethylene'));
  if (hard || rng.chance(0.4)) {
    // trolley: two aluminium rails from one short end, a handle bar, wheels at the other end
    const end = rng.chance(0.5) ? -1 : 1;
    const railL = W * rng.range(0.55, 0.8);
    const gap = Math.min(H * 0.5, rng.range(180, 260)) / 2;
    const u0 = end > 0 ? W / 2 - 18 - railL : -W / 2 + 18;
    for (const v of [-gap, gap]) {
      out.push(revolved(subFrame(f, 0, v), { u0, profile: [{ len: railL, r0: 9, r1: 9 }], wall: rng.range(1, 1.6), material: 'aluminium', caps: [1, 1] }));
      out.push(revolved(subFrame(f, 0, v), { u0: u0 + railL * 0.1, profile: [{ len: railL * 0.8, r0: 6.5, r1: 6.5 }], wall: 1, material: 'aluminium' }));
    }
    const hu = end > 0 ? W / 2 - 25 : -W / 2 + 25;
    out.push(slab(f, [roundedRectPts(32, 2 * gap + 40, 10, hu, 0)], 22, 'polyethylene'));
    out.push(slab(f, [roundedRectPts(50, 2 * gap + 30, 6, end > 0 ? W / 2 - 60 : -W / 2 + 60, 0)], 2.5, 'aluminium'));
    const wu = -end * (W / 2 - 35);
    for (const v of [-(H / 2 - 35), H / 2 - 35]) {
      out.push(ellipsoid(f, wu, v, 28, 28, 22, 'rubber'));
      out.push(ellipsoid(f, wu, v, 5, 5, 30, 'iron'));
      out.push(slab(f, [roundedRectPts(70, 55, 8, wu, v)], 4, 'polyethylene'));
    }
  }
  return out;
}

/** Random point inside the bag, `margin` mm from its edges (returns mm relative to the bag centre). */
function inside(rng: Rng, bag: BagGeometry, margin: number): [number, number] {
  const W = (bag.x1 - bag.x0) / bag.pxPerMm;
  const H = (bag.y1 - bag.y0) / bag.pxPerMm;
  const mu = Math.max(0, W / 2 - margin);
  const mv = Math.max(0, H / 2 - margin);
  return [rng.range(-mu, mu), rng.range(-mv, mv)];
}

function clampToBag(pts: number[], bag: BagGeometry, margin: number): number[] {
  const W = (bag.x1 - bag.x0) / bag.pxPerMm / 2 - margin;
  const H = (bag.y1 - bag.y0) / bag.pxPerMm / 2 - margin;
  return pts.map((v, i) => (i % 2 === 0 ? Math.max(-W, Math.min(W, v)) : Math.max(-H, Math.min(H, v))));
}

/** A folded garment: an irregular blob of fabric with a few thicker folds. */
function garment(rng: Rng, bag: BagGeometry): Primitive[] {
  const f = bagFrame(bag);
  const W = (bag.x1 - bag.x0) / bag.pxPerMm;
  const H = (bag.y1 - bag.y0) / bag.pxPerMm;
  const [cu, cv] = inside(rng, bag, 40);
  const ru = rng.range(0.15, 0.4) * W;
  const rv = rng.range(0.15, 0.4) * H;
  const a = rng.range(0, Math.PI);
  const n = 16;
  const pts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const r = rng.range(0.7, 1.15);
    const x = ru * r * Math.cos(t);
    const y = rv * r * Math.sin(t);
    pts.push(cu + x * Math.cos(a) - y * Math.sin(a), cv + x * Math.sin(a) + y * Math.cos(a));
  }
  const mat: MaterialName = rng.chance(0.75) ? 'cotton' : 'polyethylene';
  const t = rng.range(2, 9);
  const out: Primitive[] = [slab(f, [clampToBag(pts, bag, 12)], t, mat)];
  // folds and creases: irregular elongated blobs of extra fabric
  for (let i = 0; i < rng.int(4, 12); i++) {
    const fa = a + rng.range(-0.9, 0.9);
    const len = rng.range(0.25, 1.1) * Math.max(ru, rv);
    const wid = rng.range(6, 40);
    const ou = cu + rng.range(-ru, ru) * 0.6;
    const ov = cv + rng.range(-rv, rv) * 0.6;
    const c = Math.cos(fa);
    const s = Math.sin(fa);
    const fold: number[] = [];
    for (let k = 0; k < 10; k++) {
      const th = (2 * Math.PI * k) / 10;
      const rr = rng.range(0.75, 1.2);
      const x = (len / 2) * rr * Math.cos(th);
      const y = (wid / 2) * rr * Math.sin(th);
      fold.push(ou + x * c - y * s, ov + x * s + y * c);
    }
    out.push(slab(f, [clampToBag(fold, bag, 12)], t * rng.range(0.3, 1.2), mat));
  }
  if (rng.chance(0.35)) {
    // jeans: rivets and a metal button; a zip fly
    for (let i = 0; i < rng.int(2, 6); i++) out.push(ellipsoid(f, cu + rng.range(-ru, ru) * 0.6, cv + rng.range(-rv, rv) * 0.6, 3, 3, 1.5, 'copper'));
    const zf = subFrame(f, cu, cv, rng.range(0, Math.PI));
    const zl = Math.min(ru, rv, 160) * 0.9;
    out.push(tube(zf, [-zl / 2, 0, zl / 2, 0], 1.8, 'iron', { density: 0.3 }));
  }
  return out;
}

/** A smooth random walk inside the bag (mm, bag frame). */
function wander(rng: Rng, bag: BagGeometry, lengthMm: number, step = 6): number[] {
  const W = (bag.x1 - bag.x0) / bag.pxPerMm / 2 - 20;
  const H = (bag.y1 - bag.y0) / bag.pxPerMm / 2 - 20;
  let [u, v] = inside(rng, bag, 30);
  let a = rng.range(0, 2 * Math.PI);
  let da = 0;
  const pts = [u, v];
  for (let d = 0; d < lengthMm; d += step) {
    da = 0.8 * da + rng.range(-0.12, 0.12);
    a += da;
    u += step * Math.cos(a);
    v += step * Math.sin(a);
    if (u < -W || u > W) {
      a = Math.PI - a;
      u = Math.max(-W, Math.min(W, u));
    }
    if (v < -H || v > H) {
      a = -a;
      v = Math.max(-H, Math.min(H, v));
    }
    pts.push(u, v);
  }
  return pts;
}

function cable(rng: Rng, bag: BagGeometry): Primitive[] {
  const f = bagFrame(bag);
  const pts = wander(rng, bag, rng.range(150, 600));
  const core = rng.range(0.5, 1.0);
  const out: Primitive[] = [tube(f, pts, core, 'copper', { density: rng.chance(0.5) ? 1 : 2 }), tube(f, pts, core + rng.range(1.2, 2.5), 'pvc', { innerMm: core })];
  if (rng.chance(0.6)) {
    // the charger (power brick or wall plug) at one end
    const n = pts.length;
    const big = rng.chance(0.5);
    const cf = subFrame(f, pts[n - 2] as number, pts[n - 1] as number, rng.range(0, Math.PI));
    const bw = big ? rng.range(90, 130) : rng.range(40, 60);
    const bh = big ? rng.range(45, 65) : rng.range(35, 50);
    out.push(slab(cf, [roundedRectPts(bw, bh, 6)], big ? 30 : 28, 'polyethylene'));
    out.push(slab(cf, [roundedRectPts(bw * 0.7, bh * 0.7, 2)], 1.6, 'silicon'));
    out.push(slab(cf, [roundedRectPts(bh * 0.35, bh * 0.35, 1, -bw * 0.15, 0)], 15, 'iron'));
    out.push(slab(cf, [ellipsePts(bh * 0.3, bh * 0.3, 16, -bw * 0.15, 0), ellipsePts(bh * 0.2, bh * 0.2, 16, -bw * 0.15, 0)], 6, 'copper'));
    if (!big) out.push(slab(cf, [roundedRectPts(16, 2, 0.5, bw / 2 + 8, -5), roundedRectPts(16, 2, 0.5, bw / 2 + 8, 5)], 1.5, 'copper'));
  }
  return out;
}

function laptop(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 120);
  const f = subFrame(bagFrame(bag), u, v, rng.range(-0.25, 0.25) + (rng.chance(0.5) ? Math.PI / 2 : 0));
  const W = rng.range(280, 340);
  const H = rng.range(190, 235);
  const metal = rng.chance(0.5);
  const out: Primitive[] = [
    // lid + base shells, the display glass and the keyboard deck
    slab(f, [roundedRectPts(W, H, 10)], metal ? 2.4 : 5, metal ? 'aluminium' : 'polyethylene'),
    slab(f, [roundedRectPts(W, H, 10), roundedRectPts(W - 4, H - 4, 9)], metal ? 12 : 20, metal ? 'aluminium' : 'polyethylene'),
    slab(f, [roundedRectPts(W - 10, H - 10, 8)], 1.5, 'glass'),
    slab(f, [roundedRectPts(W * 0.9, H * 0.42, 3, 0, -H * 0.2)], 3, 'polyethylene'),
    // main board: FR-4 with copper layers, chips, a copper heat spreader and heat pipe
    slab(f, [roundedRectPts(W * 0.6, H * 0.42, 4, -W * 0.12, -H * 0.22)], 1.6, 'silicon'),
    slab(f, [roundedRectPts(W * 0.6, H * 0.42, 4, -W * 0.12, -H * 0.22)], 0.1, 'copper'),
    slab(f, [roundedRectPts(45, 45, 2, -W * 0.05, -H * 0.25)], 1.2, 'copper'),
  ];
  for (let i = 0; i < rng.int(6, 14); i++) {
    out.push(slab(f, [roundedRectPts(rng.range(6, 25), rng.range(6, 25), 1, -W * 0.12 + rng.range(-W * 0.27, W * 0.27), -H * 0.22 + rng.range(-H * 0.18, H * 0.18))], rng.range(1, 2.5), 'silicon'));
  }
  out.push(tube(f, [-W * 0.05, -H * 0.25, W * 0.15, -H * 0.3, W * 0.3, -H * 0.3], 2.5, 'copper', { innerMm: 1.8 }));
  out.push(slab(f, [ellipsePts(28, 28, 16, W * 0.3, -H * 0.3), ellipsePts(10, 10, 12, W * 0.3, -H * 0.3)], 3, 'polyethylene'));
  out.push(slab(f, [ellipsePts(8, 8, 12, W * 0.3, -H * 0.3)], 6, 'copper'));
  if (rng.chance(0.5)) {
    const cells = rng.int(3, 6);
    for (let i = 0; i < cells; i++) {
      out.push(revolved(subFrame(f, -W * 0.3 + i * 19, H * 0.28, Math.PI / 2), { u0: -32, profile: [{ len: 65, r0: 9, r1: 9 }], wall: 0.3, material: 'iron', caps: [0.5, 0.5], fill: { material: 'aluminium', fraction: 1 } }));
    }
  } else {
    out.push(slab(f, [roundedRectPts(W * 0.6, H * 0.3, 3, 0, H * 0.28)], 6, 'aluminium'));
    out.push(slab(f, [roundedRectPts(W * 0.6, H * 0.3, 3, 0, H * 0.28)], 0.3, 'copper'));
  }
  for (let i = 0; i < 10; i++) {
    const su = i < 5 ? -W / 2 + 10 + i * (W - 20) / 4 : -W / 2 + 10 + (i - 5) * (W - 20) / 4;
    out.push(ellipsoid(f, su, i < 5 ? -H / 2 + 8 : H / 2 - 8, 2.5, 2.5, 4, 'iron'));
  }
  out.push(tube(f, [-W * 0.4, -H / 2 + 6, W * 0.4, -H / 2 + 6], 3, 'iron', { innerMm: 2, density: 0.6 }));
  return out;
}

function phone(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 60);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const L = rng.range(135, 165);
  const w = rng.range(65, 78);
  return [
    slab(f, [roundedRectPts(L, w, 9)], 1.6, 'glass'),
    slab(f, [roundedRectPts(L, w, 9), roundedRectPts(L - 3, w - 3, 8)], 8, 'aluminium'),
    slab(f, [roundedRectPts(L * 0.55, w * 0.75, 3, -L * 0.1, 0)], 4.5, 'aluminium'),
    slab(f, [roundedRectPts(L * 0.25, w * 0.7, 2, L * 0.32, 0)], 1.5, 'silicon'),
    ellipsoid(f, L * 0.38, -w * 0.25, 6, 6, 3, 'glass'),
  ];
}

function pen(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 80);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const L = rng.range(120, 150);
  const metal = rng.chance(0.6);
  return [
    revolved(f, { u0: -L / 2, profile: [{ len: 15, r0: 1.5, r1: 4.5 }, { len: L - 15, r0: 4.5, r1: 5 }], wall: metal ? 0.5 : 1, material: metal ? 'aluminium' : 'polyethylene', caps: [0, 2] }),
    revolved(f, { u0: -L / 2 + 2, profile: [{ len: L - 20, r0: 1.5, r1: 1.5 }], wall: 0.3, material: metal ? 'iron' : 'polyethylene' }),
    slab(f, [[L / 2 - 35, 5, L / 2 - 5, 5, L / 2 - 5, 8, L / 2 - 35, 7]], 0.8, 'iron'),
  ];
}

function keys(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 60);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, 2 * Math.PI));
  const out: Primitive[] = [slab(f, [ellipsePts(14, 14, 20), ellipsePts(12.5, 12.5, 20)], 1.6, 'iron')];
  for (let i = 0; i < rng.int(1, 4); i++) {
    const g = subFrame(f, 0, 0, rng.range(-1.2, 1.2) + (i % 2) * Math.PI);
    const L = rng.range(45, 60);
    const bit = [18, -4, 18 + L * 0.6, -4];
    for (let t = 0; t < 5; t++) bit.push(18 + L * (0.6 - t * 0.1), 3 + (t % 2) * 2);
    bit.push(18, 4);
    out.push(slab(g, [ellipsePts(11, 11, 16, 22, 0), ellipsePts(3, 3, 8, 16, 0)], 2, rng.chance(0.7) ? 'iron' : 'copper'));
    out.push(slab(g, [bit.map((x, j) => (j % 2 === 0 ? x + 14 : x))], 2, 'iron'));
  }
  return out;
}

function coins(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 50);
  const f = subFrame(bagFrame(bag), u, v);
  const out: Primitive[] = [];
  for (let i = 0; i < rng.int(2, 7); i++) {
    const r = rng.range(8, 13);
    out.push(slab(subFrame(f, rng.range(-25, 25), rng.range(-25, 25)), [ellipsePts(r, r, 18)], rng.range(1.5, 2.3), rng.chance(0.5) ? 'copper' : 'iron'));
  }
  return out;
}

function cosmetics(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 60);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, 2 * Math.PI));
  const kind = rng.int(0, 2);
  if (kind === 0) {
    // cream jar
    const r = rng.range(22, 35);
    return [revolved(f, { u0: -20, profile: [{ len: rng.range(25, 45), r0: r, r1: r }], wall: rng.range(1.5, 3.5), material: rng.chance(0.5) ? 'glass' : 'polyethylene', caps: [3, 4], fill: { material: 'water', fraction: rng.range(0.4, 1) } })];
  }
  if (kind === 1) {
    // lipstick / mascara
    return [revolved(f, { u0: -38, profile: [{ len: rng.range(60, 80), r0: 8, r1: 8 }], wall: 0.6, material: 'aluminium', caps: [1, 1], fill: { material: 'polyethylene', fraction: 1 } })];
  }
  // squeezed tube with a cap
  const L = rng.range(110, 170);
  const w = rng.range(30, 50);
  return [
    slab(f, [[-L / 2, -w / 2, L / 2 - 10, -w * 0.3, L / 2 - 10, w * 0.3, -L / 2, w / 2]], 0.6, 'aluminium'),
    slab(f, [[-L / 2 + 4, -w / 2 + 3, L / 2 - 12, -w * 0.25, L / 2 - 12, w * 0.25, -L / 2 + 4, w / 2 - 3]], rng.range(5, 12), 'water', { fromV: 0, toV: w / 2, min: 0.2 }),
    slab(f, [roundedRectPts(14, 18, 3, L / 2 - 5, 0)], 16, 'polyethylene'),
  ];
}

function belt(rng: Rng, bag: BagGeometry): Primitive[] {
  const f = bagFrame(bag);
  const pts = wander(rng, bag, rng.range(300, 700), 10);
  const out: Primitive[] = [tube(f, pts, 17, 'rubber', { density: 0.25 })];
  const g = subFrame(f, pts[0] as number, pts[1] as number, rng.range(0, Math.PI));
  out.push(slab(g, [roundedRectPts(50, 44, 6), roundedRectPts(40, 34, 4)], 4, 'iron'));
  out.push(slab(g, [[-2, -20, 2, -20, 2, 20, -2, 20]], 3, 'iron'));
  return out;
}

function shoes(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 140);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const L = rng.range(240, 300);
  const out: Primitive[] = [];
  for (const side of [-1, 1]) {
    const g = subFrame(f, rng.range(-20, 20), side * 55, rng.range(-0.2, 0.2) + (side < 0 ? Math.PI : 0));
    const sole = [-L / 2, -30, L * 0.2, -42, L / 2, -25, L / 2, 25, L * 0.2, 40, -L / 2, 30];
    out.push(slab(g, [sole], rng.range(18, 30), 'rubber'));
    out.push(slab(g, [sole], rng.range(4, 10), 'cotton'));
    out.push(slab(g, [roundedRectPts(90, 14, 3, -L * 0.12, 0)], 1.5, 'iron'));
    for (let i = 0; i < 5; i++) out.push(ellipsoid(g, L * 0.05 + i * 14, 22, 2.5, 2.5, 1.5, 'iron'));
  }
  return out;
}

function book(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 120);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const out: Primitive[] = [slab(f, [roundedRectPts(rng.range(150, 240), rng.range(110, 170), 2)], rng.range(8, 35), 'paper')];
  if (rng.chance(0.3)) out.push(tube(f, [-90, -70, -90, 70], 3, 'iron', { innerMm: 2.5, density: 0.5 }));
  return out;
}

function batteries(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 50);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const out: Primitive[] = [];
  for (let i = 0; i < rng.int(1, 4); i++) {
    out.push(revolved(subFrame(f, 0, i * 15), { u0: -25, profile: [{ len: 50, r0: 7, r1: 7 }], wall: 0.25, material: 'iron', caps: [0.5, 0.5], fill: { material: 'aluminium', fraction: 1, density: 0.9 } }));
  }
  return out;
}

function umbrella(rng: Rng, bag: BagGeometry): Primitive[] {
  const [u, v] = inside(rng, bag, 160);
  const f = subFrame(bagFrame(bag), u, v, rng.range(0, Math.PI));
  const L = rng.range(230, 300);
  const out: Primitive[] = [
    slab(f, [roundedRectPts(L, 45, 15)], 6, 'polyethylene'),
    tube(f, [-L / 2, 0, L / 2, 0], 5, 'aluminium', { innerMm: 4 }),
    tube(f, [-L / 2 + 5, 0, L / 2 - 5, 0], 2.5, 'iron', { innerMm: 2 }),
  ];
  for (let i = 0; i < 6; i++) out.push(tube(f, [-L / 2 + 30, -16 + i * 6.4, L / 2 - 20, -14 + i * 5.6], 0.9, 'iron'));
  out.push(revolved(subFrame(f, -L / 2 - 40, 0), { u0: -50, profile: [{ len: 90, r0: 14, r1: 15 }], wall: 3, material: 'polyethylene' }));
  return out;
}

/** Non-threat clutter builders and how likely each is in a bag (expected count). */
export const CLUTTER: { name: string; rate: number; build: (rng: Rng, bag: BagGeometry) => Primitive[] }[] = [
  { name: 'garment', rate: 5.5, build: garment },
  { name: 'cable', rate: 1.2, build: cable },
  { name: 'laptop', rate: 0.3, build: laptop },
  { name: 'phone', rate: 0.35, build: phone },
  { name: 'pen', rate: 0.7, build: pen },
  { name: 'keys', rate: 0.35, build: keys },
  { name: 'coins', rate: 0.3, build: coins },
  { name: 'cosmetics', rate: 0.8, build: cosmetics },
  { name: 'belt', rate: 0.25, build: belt },
  { name: 'shoes', rate: 0.25, build: shoes },
  { name: 'book', rate: 0.35, build: book },
  { name: 'batteries', rate: 0.2, build: batteries },
  { name: 'umbrella', rate: 0.15, build: umbrella },
];
