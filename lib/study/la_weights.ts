// How far LA's weights move the features on a test set: per FPN level, the
// distribution of |w1 − w2| (LAcls: x_new = x·(1 + w1 − w2) with a = b = c = 1)
// or |w − 0.5| (LAreg: x_new = x·(0.5 + w)). Both are 0 where LA leaves the
// feature unchanged. Read from detector.inspect() (test mode, pseudo labels),
// over each image's own area (batch padding left out).
import { LaxrayError } from '../errors.js';
import { evaluationLoader, type Dataset } from '../data/index.js';
import type { TensorData } from '../tensor.js';

/**
 * Counts of non-negative values on a log scale, with the exact count, sum and
 * maximum: percentiles to within one bin (BINS_PER_DECADE bins per factor 10,
 * i.e. ±0.12%), in bounded memory however many values go in.
 */
export class LogHistogram {
  static readonly MIN_EXP = -16;
  static readonly MAX_EXP = 1;
  static readonly BINS_PER_DECADE = 1000;
  /** bins[0]: values below 10^MIN_EXP (zeros included); the last: values ≥ 10^MAX_EXP. */
  readonly bins = new Float64Array((LogHistogram.MAX_EXP - LogHistogram.MIN_EXP) * LogHistogram.BINS_PER_DECADE + 2);
  count = 0;
  sum = 0;
  max = 0;

  add(v: number): void {
    if (!(v >= 0)) throw new LaxrayError('INVALID_ARGUMENT', `LogHistogram takes values ≥ 0, got ${v}`);
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    this.bins[this.binOf(v)]!++;
  }

  private binOf(v: number): number {
    if (v < 10 ** LogHistogram.MIN_EXP) return 0;
    const last = this.bins.length - 1;
    const k = Math.floor((Math.log10(v) - LogHistogram.MIN_EXP) * LogHistogram.BINS_PER_DECADE) + 1;
    return Math.min(Math.max(k, 1), last);
  }

  /** Adds another histogram's counts. */
  merge(other: LogHistogram): void {
    for (let i = 0; i < this.bins.length; i++) this.bins[i]! += other.bins[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  get mean(): number {
    return this.count > 0 ? this.sum / this.count : Number.NaN;
  }

  /**
   * The q-th percentile (q in [0, 100]): the geometric centre of the bin holding
   * the value of rank ceil(q/100 · count), capped at the exact maximum; 0 when
   * that value is below 10^MIN_EXP.
   */
  percentile(q: number): number {
    if (!(q >= 0 && q <= 100)) throw new LaxrayError('INVALID_ARGUMENT', `percentile q must be in [0, 100], got ${q}`);
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((q / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i]!;
      if (seen >= rank) {
        if (i === 0) return 0;
        const centre = 10 ** (LogHistogram.MIN_EXP + (i - 0.5) / LogHistogram.BINS_PER_DECADE);
        return Math.min(centre, this.max);
      }
    }
    return this.max;
  }
}

export interface LevelWeightStats {
  /** FPN level name (p3 … p7). */
  level: string;
  /** |w1 − w2| for LAcls, |w − 0.5| for LAreg. */
  quantity: '|w1 - w2|' | '|w - 0.5|';
  values: number;
  mean: number;
  p99: number;
  max: number;
}

/** Which LA weights `inspect()` returned: LAcls (w1, w2), LAreg (w) or none. */
export function laKind(inspection: Record<string, TensorData>): 'cls' | 'reg' | null {
  const names = Object.keys(inspection);
  if (names.some((n) => /^la\.p\d+\.w1$/.test(n))) return 'cls';
  if (names.some((n) => /^la\.p\d+\.w$/.test(n))) return 'reg';
  return null;
}

/**
 * Adds one inspected batch to per-level histograms: every channel of every
 * location inside each image's area (rows < ceil(resizedHeight / stride), same
 * for columns), where stride = padded input height / level height.
 */
export function accumulateLaWeights(
  histograms: Map<string, LogHistogram>,
  inspection: Record<string, TensorData>,
  images: readonly { resizedWidth: number; resizedHeight: number }[],
  inputHeight: number,
): 'cls' | 'reg' | null {
  const kind = laKind(inspection);
  if (kind === null) return null;
  const levels = Object.keys(inspection)
    .map((n) => /^la\.(p\d+)\.(w1|w)$/.exec(n)?.[1])
    .filter((l): l is string => l !== undefined);
  for (const level of levels) {
    const a = inspection[`la.${level}.${kind === 'cls' ? 'w1' : 'w'}`]!;
    const b = kind === 'cls' ? inspection[`la.${level}.w2`] : undefined;
    if (kind === 'cls' && b === undefined) throw new LaxrayError('NATIVE_ERROR', `inspect() returned la.${level}.w1 without la.${level}.w2`);
    const [n, c, h, w] = a.shape as [number, number, number, number];
    if (a.shape.length !== 4 || n !== images.length) throw new LaxrayError('NATIVE_ERROR', `la.${level} weights have shape [${a.shape.join(', ')}] for a batch of ${images.length} images`);
    const stride = inputHeight / h;
    let hist = histograms.get(level);
    if (hist === undefined) histograms.set(level, (hist = new LogHistogram()));
    const wa = a.data as Float32Array;
    const wb = b?.data as Float32Array | undefined;
    for (let i = 0; i < n; i++) {
      const rows = Math.min(h, Math.ceil(images[i]!.resizedHeight / stride));
      const cols = Math.min(w, Math.ceil(images[i]!.resizedWidth / stride));
      for (let ch = 0; ch < c; ch++) {
        const plane = (i * c + ch) * h * w;
        for (let y = 0; y < rows; y++) {
          const row = plane + y * w;
          for (let x = 0; x < cols; x++) {
            const v = wb !== undefined ? Math.abs(wa[row + x]! - wb[row + x]!) : Math.abs(wa[row + x]! - 0.5);
            hist.add(v);
          }
        }
      }
    }
  }
  return kind;
}

/** What LA statistics need of a detector. */
export interface InspectableModel {
  readonly config: {
    data: { imageScale: [number, number]; mean: [number, number, number]; std: [number, number, number]; padDivisor: number };
    train: { batchSize: number };
  };
  inspect(input: { data: Float32Array | Uint8Array; shape: readonly number[] }): Promise<Record<string, TensorData>>;
}

/** Per-level |w1 − w2| (or |w − 0.5|) statistics of a LA detector over `dataset` (null for a model without LA). */
export async function laWeightStats(detector: InspectableModel, dataset: Dataset, options: { batchSize?: number; workers?: number } = {}): Promise<LevelWeightStats[] | null> {
  const loader = evaluationLoader(dataset, detector.config.data, { batchSize: options.batchSize ?? detector.config.train.batchSize, workers: options.workers ?? 1 });
  const histograms = new Map<string, LogHistogram>();
  let kind: 'cls' | 'reg' | null = null;
  try {
    for await (const batch of loader.iterate({ epoch: 0 })) {
      const inspection = await detector.inspect({ data: batch.data, shape: batch.shape });
      kind = accumulateLaWeights(histograms, inspection, batch.metas, batch.shape[2]);
      loader.recycle(batch);
      if (kind === null) return null;
    }
  } finally {
    await loader.close();
  }
  if (kind === null) return null;
  return [...histograms.entries()]
    .sort(([a], [b]) => Number(a.slice(1)) - Number(b.slice(1)))
    .map(([level, h]) => ({ level, quantity: kind === 'cls' ? '|w1 - w2|' : '|w - 0.5|', values: h.count, mean: h.mean, p99: h.percentile(99), max: h.max }));
}
