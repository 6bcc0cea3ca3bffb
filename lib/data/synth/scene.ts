// Scene layout: image size and scale, the bag, clutter, and the labelled
// objects with their placement (overlap control). Pure geometry — no pixels —
// so layouts can be drawn and checked in bulk without rendering.
import { Rng } from '../random.js';
import { CATEGORIES, OBJECT_BUILDERS } from './objects.js';
import { bagPrimitives, CLUTTER, type BagGeometry } from './clutter.js';
import { primitiveBounds, translatePrimitive, unionBounds, type Bounds, type Primitive } from './shapes.js';
import type { SynthRecipe } from './recipe.js';

export interface LabelledObject {
  /** CLCXray category id, 1..12. */
  categoryId: number;
  primitives: Primitive[];
  /** Conservative footprint bounds (px); the tight box comes from the rendered mask. */
  bounds: Bounds;
  /** True when placement aimed this object at an earlier one. */
  placedOver: boolean;
}

export interface Scene {
  width: number;
  height: number;
  pxPerMm: number;
  bag: BagGeometry;
  clutter: Primitive[];
  objects: LabelledObject[];
}

function sampleSize(rng: Rng, recipe: SynthRecipe): [number, number] {
  const w = typeof recipe.width === 'number' ? recipe.width : rng.int(recipe.width[0], recipe.width[1]);
  if (typeof recipe.height === 'number') return [w, recipe.height];
  const lo = Math.max(recipe.height[0], Math.ceil(w * recipe.aspect[0]));
  const hi = Math.min(recipe.height[1], Math.floor(w * recipe.aspect[1]));
  return [w, lo <= hi ? rng.int(lo, hi) : rng.int(recipe.height[0], recipe.height[1])];
}

/** Poisson draw (Knuth; rates here are small). */
function poisson(rng: Rng, rate: number): number {
  const l = Math.exp(-rate);
  let k = 0;
  let p = rng.next();
  while (p > l) {
    k++;
    p *= rng.next();
  }
  return k;
}

function objectCount(rng: Rng, recipe: SynthRecipe): number {
  return typeof recipe.objectsPerImage === 'number' ? recipe.objectsPerImage : rng.weighted(recipe.objectsPerImage);
}

function intersection(a: Bounds, b: Bounds): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Moves a group of primitives (as one) so that its bounds lie inside the bag, `inset` px from the edge. */
function keepInside(prims: Primitive[], bag: BagGeometry, inset: number): Primitive[] {
  const b = unionBounds(prims.map(primitiveBounds));
  const shift = (lo: number, hi: number, a: number, z: number): number => (hi - lo < z - a ? (lo + hi - a - z) / 2 : a < lo ? lo - a : z > hi ? hi - z : 0);
  const dx = shift(bag.x0 + inset, bag.x1 - inset, b[0], b[2]);
  const dy = shift(bag.y0 + inset, bag.y1 - inset, b[1], b[3]);
  return dx === 0 && dy === 0 ? prims : prims.map((p) => translatePrimitive(p, dx, dy));
}

/** Lays out one scene. All randomness comes from `rng`. */
export function layoutScene(rng: Rng, recipe: SynthRecipe): Scene {
  const [width, height] = sampleSize(rng, recipe);
  // the bag fills the image up to a margin of 2–6% per side
  const mx = width * rng.range(0.02, 0.06);
  const my = height * rng.range(0.02, 0.06);
  const bagPx = Math.max(width - 2 * mx, height - 2 * my);
  const pxPerMm = bagPx / rng.range(recipe.bagLengthMm[0], recipe.bagLengthMm[1]);
  const bag: BagGeometry = { x0: mx, y0: my, x1: width - mx, y1: height - my, pxPerMm };

  const clutter: Primitive[] = bagPrimitives(rng, bag);
  for (const item of CLUTTER) {
    const n = poisson(rng, item.rate * recipe.clutter);
    for (let i = 0; i < n; i++) clutter.push(...keepInside(item.build(rng, bag), bag, 4));
  }

  const objects: LabelledObject[] = [];
  const n = objectCount(rng, recipe);
  const inset = 6;
  for (let i = 0; i < n; i++) {
    const categoryId = 1 + rng.weighted(recipe.classWeights);
    const name = CATEGORIES[categoryId - 1] as (typeof CATEGORIES)[number];
    const angle = rng.range(0, 2 * Math.PI);
    let prims = OBJECT_BUILDERS[name](rng, { cx: 0, cy: 0, angle, pxPerMm });
    const b = unionBounds(prims.map(primitiveBounds));
    const bw = b[2] - b[0];
    const bh = b[3] - b[1];
    // the range of translations that keeps the object's bounds inside the bag
    const lo = [bag.x0 + inset - b[0], bag.y0 + inset - b[1]];
    const hi = [bag.x1 - inset - b[2], bag.y1 - inset - b[3]];
    const tx = (v: number, d: 0 | 1): number => (lo[d]! <= hi[d]! ? Math.min(hi[d]!, Math.max(lo[d]!, v)) : (lo[d]! + hi[d]!) / 2);
    let dx = 0;
    let dy = 0;
    const over = objects.length > 0 && rng.chance(recipe.overlapRate);
    if (over) {
      // aim the centre at a random point of an earlier object's (shrunk) bounds
      const t = rng.pick(objects).bounds;
      const cx = rng.range(t[0] + 0.2 * (t[2] - t[0]), t[2] - 0.2 * (t[2] - t[0]));
      const cy = rng.range(t[1] + 0.2 * (t[3] - t[1]), t[3] - 0.2 * (t[3] - t[1]));
      dx = tx(cx - (b[0] + bw / 2), 0);
      dy = tx(cy - (b[1] + bh / 2), 1);
    } else {
      // try positions that keep clear of the labelled objects placed so far
      let best = Infinity;
      for (let k = 0; k < 24; k++) {
        const cx = rng.range(lo[0]!, Math.max(lo[0]!, hi[0]!));
        const cy = rng.range(lo[1]!, Math.max(lo[1]!, hi[1]!));
        const px = tx(cx, 0);
        const py = tx(cy, 1);
        const moved: Bounds = [b[0] + px, b[1] + py, b[2] + px, b[3] + py];
        let cost = 0;
        for (const o of objects) cost += intersection(moved, o.bounds);
        if (cost < best) {
          best = cost;
          dx = px;
          dy = py;
        }
        if (cost === 0) break;
      }
    }
    prims = prims.map((p) => translatePrimitive(p, dx, dy));
    objects.push({ categoryId, primitives: prims, bounds: [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy], placedOver: over });
  }
  return { width, height, pxPerMm, bag, clutter, objects };
}
