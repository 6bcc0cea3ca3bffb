// Stable descending argsort of float64 scores — np.argsort(-scores,
// kind='mergesort') — as an LSD radix sort over the scores' bits: linear time,
// no comparator calls, and ties keep their input order by construction.

const RADIX = 1 << 16;

/** Scratch reused between calls (the evaluator sorts one category at a time). */
let hiA = new Uint32Array(0);
let loA = new Uint32Array(0);
let hiB = new Uint32Array(0);
let loB = new Uint32Array(0);
let idxB = new Int32Array(0);
const hist = new Int32Array(4 * RADIX);
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * Writes into out[0..n) the positions 0..n-1 ordered by descending
 * score[base + p]; equal scores (+0 and -0 included) keep ascending position.
 */
export function argsortDescending(score: Float64Array, base: number, n: number, out: Int32Array): void {
  if (hiA.length < n) {
    const cap = Math.max(n, 2 * hiA.length);
    hiA = new Uint32Array(cap);
    loA = new Uint32Array(cap);
    hiB = new Uint32Array(cap);
    loB = new Uint32Array(cap);
    idxB = new Int32Array(cap);
  }
  hist.fill(0);
  keysAndHistograms(score, base, n, out);
  let srcHi: Uint32Array = hiA, srcLo: Uint32Array = loA, srcIdx: Int32Array = out;
  let dstHi: Uint32Array = hiB, dstLo: Uint32Array = loB, dstIdx: Int32Array = idxB;
  for (let pass = 0; pass < 4; pass++) {
    // A digit that every key shares leaves the order as it is: skip the pass.
    if (!prefixSums(pass * RADIX, n)) continue;
    scatter(pass, n, srcHi, srcLo, srcIdx, dstHi, dstLo, dstIdx);
    [srcHi, dstHi] = [dstHi, srcHi];
    [srcLo, dstLo] = [dstLo, srcLo];
    [srcIdx, dstIdx] = [dstIdx, srcIdx];
  }
  if (srcIdx !== out) out.set(srcIdx.subarray(0, n));
}

/** Sort keys (ascending ⇔ score descending) and the four 16-bit digit histograms. */
function keysAndHistograms(score: Float64Array, base: number, n: number, out: Int32Array): void {
  for (let i = 0; i < n; i++) {
    f64[0] = score[base + i]! + 0; // -0 → +0: numpy compares them equal
    const bitsHi = u32[1]!;
    const bitsLo = u32[0]!;
    // Non-negative: flip all bits but the sign's complement; negative: as is (larger magnitude sorts later).
    const neg = bitsHi >>> 31;
    const hi = neg ? bitsHi : ~(bitsHi | 0x80000000) >>> 0;
    const lo = neg ? bitsLo : ~bitsLo >>> 0;
    hiA[i] = hi;
    loA[i] = lo;
    out[i] = i;
    hist[lo & 0xffff]!++;
    hist[RADIX + (lo >>> 16)]!++;
    hist[2 * RADIX + (hi & 0xffff)]!++;
    hist[3 * RADIX + (hi >>> 16)]!++;
  }
}

/** Turns histogram h into start offsets; false when one digit holds all n keys (nothing to do). */
function prefixSums(h: number, n: number): boolean {
  let sum = 0;
  for (let d = 0; d < RADIX; d++) {
    const c = hist[h + d]!;
    if (c === n) return false;
    hist[h + d] = sum;
    sum += c;
  }
  return true;
}

/** One stable counting-sort pass on digit `pass` (0, 1: low word; 2, 3: high word). */
function scatter(pass: number, n: number, srcHi: Uint32Array, srcLo: Uint32Array, srcIdx: Int32Array, dstHi: Uint32Array, dstLo: Uint32Array, dstIdx: Int32Array): void {
  const h = pass * RADIX;
  const shift = (pass & 1) * 16;
  const src = pass >= 2 ? srcHi : srcLo;
  for (let i = 0; i < n; i++) {
    const at = hist[h + ((src[i]! >>> shift) & 0xffff)]!++;
    dstHi[at] = srcHi[i]!;
    dstLo[at] = srcLo[i]!;
    dstIdx[at] = srcIdx[i]!;
  }
}

/**
 * For every category, its detections (kept, in grouping order) ranked by
 * descending score: out[base + i] is the position, relative to the category's
 * first detection `base`, of the i-th best. Ties keep grouping order (images by
 * ascending id, then rank in the image), as pycocotools' accumulate orders them.
 */
export function rankByCategory(detStart: Int32Array, numImages: number, numCategories: number, score: Float64Array): Int32Array {
  const out = new Int32Array(score.length);
  for (let k = 0; k < numCategories; k++) {
    const base = detStart[k * numImages]!;
    const n = detStart[(k + 1) * numImages]! - base;
    argsortDescending(score, base, n, out.subarray(base, base + n));
  }
  return out;
}
