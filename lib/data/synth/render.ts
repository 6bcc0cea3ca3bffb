// Dual-energy image formation (Beer–Lambert). For each pixel the line integral
// A_E = Σ_m μ_m(E)·t_m over every primitive the ray crosses is accumulated at
// the low and the high effective energy; the expected reading is
//   I_E = airLevel · exp(−A_E)
// (air reads `airLevel`); the detector blurs it ([1 2 1]/4 in x and y when
// `blur`), adds photon noise — Poisson with n = N0_E·I/airLevel expected
// photons: in its Gaussian form when n ≥ 30, drawn exactly (Knuth) below — and
// electronic Gaussian noise σ_e, then quantises to 16 bits:
//   reading = floor(I + sqrt(⌊I⌋·airLevel/N0 + σ_e²)·g + 0.5),  g ~ N(0, 1)   (n ≥ 30)
//   reading = floor(k·airLevel/N0 + σ_e·g + 0.5),  k ~ Poisson(n)            (n < 30)
// clamped to [0, 65535].
// Noise comes from a table of 4,096 normal quantiles indexed by a xorshift32
// stream seeded from the scene's PRNG, so renders are fast and bit-reproducible.
import { Rng } from '../random.js';
import { attenuationTable } from './materials.js';
import { primitiveBounds, rasterize, unionBounds, type MaskRegion, type RasterTarget } from './shapes.js';
import type { Scene } from './scene.js';
import type { SynthRecipe } from './recipe.js';

export interface RenderedScan {
  width: number;
  height: number;
  /** 16-bit detector readings. */
  high: Uint16Array;
  low: Uint16Array;
  /** Noise-free line integrals A_E (kept for annotation: contrast, similarity). */
  aHigh: Float32Array;
  aLow: Float32Array;
  /** One footprint per labelled object (scene.objects order); empty (w = 0) if outside the image. */
  masks: MaskRegion[];
}

export type RenderOptions = Pick<SynthRecipe, 'lowKeV' | 'highKeV' | 'photonsLow' | 'photonsHigh' | 'electronicNoise' | 'airLevel' | 'blur'>;

// exp(−a) for a in [0, EXP_MAX), linear interpolation between 1/EXP_STEPS steps.
const EXP_MAX = 20;
const EXP_STEPS = 256;
const EXP_TABLE = Float64Array.from({ length: EXP_MAX * EXP_STEPS + 2 }, (_, i) => Math.exp(-i / EXP_STEPS));

/** Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

// 4096 quantiles (16 KB, cache-resident); indices are 12-bit slices of a xorshift32 word.
const NORMAL_TABLE = Float32Array.from({ length: 4096 }, (_, i) => normalQuantile((i + 0.5) / 4096));

const muCache = new Map<number, Float64Array>();
function mu(keV: number): Float64Array {
  let t = muCache.get(keV);
  if (!t) {
    t = attenuationTable(keV);
    muCache.set(keV, t);
  }
  return t;
}

/**
 * Reusable buffers (one set per worker): detector row buffers and the two
 * line-integral maps. With a scratch, a scan's aLow / aHigh are views into it,
 * valid until the next render with the same scratch (readings are always new).
 */
export class RenderScratch {
  private buf: Float32Array[] = [];
  private maps: [Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0)];
  rows(w: number): Float32Array[] {
    if ((this.buf[0]?.length ?? 0) < w) this.buf = Array.from({ length: 3 }, () => new Float32Array(w));
    return this.buf;
  }
  /** Two zeroed maps of n pixels. */
  lineIntegrals(n: number): [Float32Array, Float32Array] {
    if (this.maps[0].length < n) this.maps = [new Float32Array(n), new Float32Array(n)];
    const a = this.maps[0].subarray(0, n);
    const b = this.maps[1].subarray(0, n);
    a.fill(0);
    b.fill(0);
    return [a, b];
  }
}

const sigmaCache = new Map<string, Float32Array>();
/** σ of the reading for every integer signal level 0..air: sqrt(s·air/N0 + σ_e²). */
function sigmaTable(air: number, photons: number, sigmaE: number): Float32Array {
  const key = `${air}/${photons}/${sigmaE}`;
  let t = sigmaCache.get(key);
  if (!t) {
    const photonVar = air / photons; // grey levels² of variance per grey level of signal
    t = Float32Array.from({ length: Math.ceil(air) + 2 }, (_, s) => Math.sqrt(s * photonVar + sigmaE * sigmaE));
    sigmaCache.set(key, t);
  }
  return t;
}

/** Row y of exp(−a), then [1 2 1]/4 along x (edges replicate) when `blur`, into `dst`. */
function transmissionRow(a: Float32Array, y: number, w: number, blur: boolean, dst: Float32Array): void {
  const base = y * w;
  const lim = EXP_MAX * EXP_STEPS;
  if (!blur) {
    for (let x = 0; x < w; x++) {
      const v = (a[base + x] as number) * EXP_STEPS;
      if (v >= lim) dst[x] = 0;
      else {
        const k = v | 0;
        const e0 = EXP_TABLE[k] as number;
        dst[x] = e0 + (v - k) * ((EXP_TABLE[k + 1] as number) - e0);
      }
    }
    return;
  }
  // rolling window prev / cur / next of exp(−a)
  let prev = 0;
  let cur = 0;
  let next = 0;
  for (let x = -1; x < w; x++) {
    const xn = x + 1 < w ? x + 1 : w - 1;
    const v = (a[base + xn] as number) * EXP_STEPS;
    let e = 0;
    if (v < lim) {
      const k = v | 0;
      const e0 = EXP_TABLE[k] as number;
      e = e0 + (v - k) * ((EXP_TABLE[k + 1] as number) - e0);
    }
    prev = cur;
    cur = next;
    next = e;
    if (x === -1) {
      cur = e;
      continue;
    }
    if (x === 0) prev = cur;
    dst[x] = 0.5 * cur + 0.25 * (prev + next);
  }
}

const FEW_PHOTONS = 30;

/** Reading (+0.5, before truncation) for signal s when few photons arrive: Poisson count (Knuth) + electronic noise. */
function fewPhotons(s: number, perPhoton: number, sigmaE: number, g: number, rng: Rng): number {
  const limit = Math.exp(-s / perPhoton);
  let k = -1;
  let p = 1;
  do {
    k++;
    p *= rng.next();
  } while (p > limit);
  return k * perPhoton + sigmaE * g + 0.5;
}

/**
 * Transmission → blurred → noisy 16-bit readings in one pass over the rows
 * (a ring of three row buffers for the vertical [1 2 1]/4), so the image is
 * read once.
 */
function detect(a: Float32Array, out: Uint16Array, w: number, h: number, o: { air: number; photons: number; sigmaE: number; blur: boolean }, rng: Rng, scratch: RenderScratch): void {
  const sigma = sigmaTable(o.air, o.photons, o.sigmaE);
  const air = o.air;
  const blur = o.blur;
  const rows = scratch.rows(w);
  // rows[(y + 1) % 3] holds row y
  transmissionRow(a, 0, w, blur, rows[1] as Float32Array);
  if (h > 1) transmissionRow(a, 1, w, blur, rows[2] as Float32Array);
  let x32 = rng.u32() | 1;
  // below ~30 expected photons the Gaussian form of Poisson noise is poor: draw the count exactly
  const perPhoton = air / o.photons;
  const lowSignal = FEW_PHOTONS * perPhoton;
  // vertical weights: 1/4, 1/2, 1/4 with blur; 0, 1, 0 without
  const wc = blur ? 0.5 * air : air;
  const wn = blur ? 0.25 * air : 0;
  for (let y = 0; y < h; y++) {
    const cur = rows[(y + 1) % 3] as Float32Array;
    const up = y > 0 ? (rows[y % 3] as Float32Array) : cur;
    const dn = y < h - 1 ? (rows[(y + 2) % 3] as Float32Array) : cur;
    const base = y * w;
    for (let x = 0; x < w; x += 2) {
      x32 ^= x32 << 13;
      x32 ^= x32 >>> 17;
      x32 ^= x32 << 5;
      const s0 = wc * (cur[x] as number) + wn * ((up[x] as number) + (dn[x] as number));
      const g0 = NORMAL_TABLE[x32 & 4095] as number;
      const v0 = s0 < lowSignal ? fewPhotons(s0, perPhoton, o.sigmaE, g0, rng) : s0 + (sigma[s0 | 0] as number) * g0 + 0.5;
      out[base + x] = v0 < 0 ? 0 : v0 >= 65535 ? 65535 : v0 | 0;
      if (x + 1 < w) {
        const s1 = wc * (cur[x + 1] as number) + wn * ((up[x + 1] as number) + (dn[x + 1] as number));
        const g1 = NORMAL_TABLE[(x32 >>> 16) & 4095] as number;
        const v1 = s1 < lowSignal ? fewPhotons(s1, perPhoton, o.sigmaE, g1, rng) : s1 + (sigma[s1 | 0] as number) * g1 + 0.5;
        out[base + x + 1] = v1 < 0 ? 0 : v1 >= 65535 ? 65535 : v1 | 0;
      }
    }
    // row y − 1 is no longer needed: its slot takes row y + 2
    if (y + 2 < h) transmissionRow(a, y + 2, w, blur, rows[y % 3] as Float32Array);
  }
}

/** Renders a scene to a dual-energy pair; `rng` drives the noise only. */
export function renderScene(scene: Scene, rng: Rng, options: RenderOptions, scratch?: RenderScratch): RenderedScan {
  const { width, height } = scene;
  const n = width * height;
  const [aLow, aHigh] = scratch ? scratch.lineIntegrals(n) : [new Float32Array(n), new Float32Array(n)];
  const target: RasterTarget = { width, height, mmPerPx: 1 / scene.pxPerMm, muLow: mu(options.lowKeV), muHigh: mu(options.highKeV), aLow, aHigh };
  for (const p of scene.clutter) rasterize(p, target);
  const masks: MaskRegion[] = [];
  for (const obj of scene.objects) {
    const b = unionBounds(obj.primitives.map(primitiveBounds));
    const x0 = Math.max(0, Math.floor(b[0]));
    const y0 = Math.max(0, Math.floor(b[1]));
    const x1 = Math.min(width, Math.ceil(b[2]) + 1);
    const y1 = Math.min(height, Math.ceil(b[3]) + 1);
    const w = Math.max(0, x1 - x0);
    const h = Math.max(0, y1 - y0);
    const mask: MaskRegion = { x0, y0, w, h, data: new Uint8Array(w * h) };
    for (const p of obj.primitives) rasterize(p, target, mask);
    masks.push(mask);
  }
  const low = new Uint16Array(n);
  const high = new Uint16Array(n);
  const rows = scratch ?? new RenderScratch();
  detect(aLow, low, width, height, { air: options.airLevel, photons: options.photonsLow, sigmaE: options.electronicNoise, blur: options.blur }, rng, rows);
  detect(aHigh, high, width, height, { air: options.airLevel, photons: options.photonsHigh, sigmaE: options.electronicNoise, blur: options.blur }, rng, rows);
  return { width, height, high, low, aHigh, aLow, masks };
}
