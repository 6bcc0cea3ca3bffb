// The generator's recipe: every knob with its default. Defaults resemble the
// paper's CLCXray data (§III.C, Table II, Fig. 5).
import { LaxrayError } from '../../errors.js';
import { CATEGORIES } from './objects.js';
import { DEFAULT_CHALLENGING } from './challenging.js';

export interface SynthRecipe {
  /** Image width in px: a fixed number or a [min, max] range sampled uniformly. */
  width: number | [number, number];
  /** Image height in px: fixed or [min, max]; with ranges, height/width is kept within `aspect`. */
  height: number | [number, number];
  /** Allowed height/width ratio when sizes are sampled. */
  aspect: [number, number];
  /** Physical length of the bag's long side in mm (sets the mm-per-pixel scale). */
  bagLengthMm: [number, number];
  /**
   * Labelled objects per image: a fixed count, or weights indexed by count
   * (weights[n] ∝ P(n objects)).
   */
  objectsPerImage: number | number[];
  /** Relative frequency of the 12 classes (CATEGORIES order). */
  classWeights: number[];
  /** Probability that each labelled object after the first is placed over an earlier one. */
  overlapRate: number;
  /** Multiplier on the expected number of clutter items. */
  clutter: number;
  /** Effective energies (keV) of the low- and high-energy images. */
  lowKeV: number;
  highKeV: number;
  /** Photons per pixel reaching the detector through air (sets Poisson noise). */
  photonsLow: number;
  photonsHigh: number;
  /** Electronic (Gaussian) noise, σ in 16-bit grey levels. */
  electronicNoise: number;
  /** 16-bit reading of air (unattenuated beam). */
  airLevel: number;
  /** Detector blur: a [1 2 1]/4 kernel in x and y on the intensities. */
  blur: boolean;
  /** train / val / test fractions (paper: 8:1:1). */
  split: [number, number, number];
  /** Challenging-subset thresholds (see challenging.ts). */
  challenging: { minOverlap: number; minSimilarity: number };
}

/**
 * CLCXray Table II (instances per class), in CATEGORIES order:
 * blade 3539, dagger 988, knife 700, scissors 2496, swiss army knife 1041,
 * cans 789, carton drinks 1926, glass bottle 540, plastic bottle 5998,
 * vacuum cup 2166, spray cans 1077, tin 856.
 */
export const CLCXRAY_CLASS_COUNTS = [3539, 988, 700, 2496, 1041, 789, 1926, 540, 5998, 2166, 1077, 856];

/**
 * Objects per image: P(1) 0.40, P(2) 0.30, P(3) 0.15, P(4) 0.08, P(5) 0.04,
 * P(6) 0.03 — mean 2.15 (paper: "more than two potentially dangerous items on
 * average", 20,000+ items in 9,565 images) and 60% of images with ≥ 2 objects
 * (paper Fig. 5: "nearly 60%").
 */
export const CLCXRAY_OBJECTS_PER_IMAGE = [0, 0.4, 0.3, 0.15, 0.08, 0.04, 0.03];

export const DEFAULT_RECIPE: SynthRecipe = {
  // "The resolutions of images are between 373 × 200 and 732 × 1280" (W × H)
  width: [373, 732],
  height: [200, 1280],
  aspect: [0.5, 1.8],
  bagLengthMm: [450, 750],
  objectsPerImage: CLCXRAY_OBJECTS_PER_IMAGE,
  classWeights: CLCXRAY_CLASS_COUNTS,
  overlapRate: 0.35,
  clutter: 1,
  lowKeV: 60,
  highKeV: 120,
  photonsLow: 15000,
  photonsHigh: 25000,
  electronicNoise: 20,
  airLevel: 64000,
  blur: true,
  split: [0.8, 0.1, 0.1],
  challenging: { ...DEFAULT_CHALLENGING },
};

/** The default recipe with `overrides` applied and every field checked. */
export function resolveRecipe(overrides: Partial<SynthRecipe> = {}): SynthRecipe {
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_RECIPE)) throw new LaxrayError('INVALID_ARGUMENT', `unknown synth recipe field "${key}"; known fields: ${Object.keys(DEFAULT_RECIPE).join(', ')}`);
  }
  const r: SynthRecipe = { ...DEFAULT_RECIPE, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const bad = (field: string, why: string): never => {
    throw new LaxrayError('INVALID_ARGUMENT', `synth recipe field ${field} ${why}`);
  };
  const size = (field: string, v: number | [number, number]): void => {
    const [a, b] = typeof v === 'number' ? [v, v] : v;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 32 || b < a || b > 8192) bad(field, `must be an integer (or [min, max]) between 32 and 8192, got ${JSON.stringify(v)}`);
  };
  size('width', r.width);
  size('height', r.height);
  if (typeof r.objectsPerImage === 'number') {
    if (!Number.isInteger(r.objectsPerImage) || r.objectsPerImage < 0 || r.objectsPerImage > 50) bad('objectsPerImage', `must be an integer 0..50, got ${r.objectsPerImage}`);
  } else if (!Array.isArray(r.objectsPerImage) || !r.objectsPerImage.length || r.objectsPerImage.some((w) => !(w >= 0)) || !r.objectsPerImage.some((w) => w > 0)) {
    bad('objectsPerImage', 'weights must be non-negative with at least one positive');
  }
  if (!Array.isArray(r.classWeights) || r.classWeights.length !== CATEGORIES.length || r.classWeights.some((w) => !(w >= 0)) || !r.classWeights.some((w) => w > 0)) {
    bad('classWeights', `must be ${CATEGORIES.length} non-negative weights (CLCXray class order)`);
  }
  if (!(r.overlapRate >= 0 && r.overlapRate <= 1)) bad('overlapRate', `must be in [0, 1], got ${r.overlapRate}`);
  if (!(r.clutter >= 0)) bad('clutter', `must be ≥ 0, got ${r.clutter}`);
  if (!(r.lowKeV >= 40 && r.highKeV <= 150 && r.lowKeV < r.highKeV)) bad('lowKeV/highKeV', `must satisfy 40 ≤ low < high ≤ 150 keV, got ${r.lowKeV}/${r.highKeV}`);
  if (!(r.photonsLow > 0 && r.photonsHigh > 0)) bad('photonsLow/photonsHigh', 'must be positive');
  if (!(r.airLevel > 0 && r.airLevel <= 65535)) bad('airLevel', `must be in (0, 65535], got ${r.airLevel}`);
  const pair = (field: string, v: unknown): void => {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && x > 0) || (v[0] as number) > (v[1] as number)) bad(field, `must be [min, max] with 0 < min ≤ max, got ${JSON.stringify(v)}`);
  };
  pair('aspect', r.aspect);
  pair('bagLengthMm', r.bagLengthMm);
  if (!(r.electronicNoise >= 0)) bad('electronicNoise', `must be ≥ 0, got ${r.electronicNoise}`);
  if (typeof r.blur !== 'boolean') bad('blur', `must be true or false, got ${JSON.stringify(r.blur)}`);
  const c = r.challenging as Partial<SynthRecipe['challenging']> | undefined;
  if (!c || !(typeof c.minOverlap === 'number' && c.minOverlap >= 0 && c.minOverlap <= 1) || !(typeof c.minSimilarity === 'number' && c.minSimilarity >= 0 && c.minSimilarity <= 1)) {
    bad('challenging', `must be { minOverlap, minSimilarity } with both in [0, 1], got ${JSON.stringify(c)}`);
  }
  const s = r.split;
  if (!Array.isArray(s) || s.length !== 3 || s.some((v) => !(v >= 0)) || Math.abs(s[0] + s[1] + s[2] - 1) > 1e-6) bad('split', `must be three fractions summing to 1, got ${JSON.stringify(s)}`);
  return r;
}
