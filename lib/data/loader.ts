// The input pipeline: Dataset → batches of normalised, padded images with
// targets, for training (`DataLoader`, an async iterator) and for inference
// (`Preprocessor` / `preprocess`, from paths, Buffers or sharp instances).
//
// Per image: decode (sharp) → resize keeping the ratio to fit `scale` →
// horizontal flip (training, p = 0.5) → normalise (mean/std, RGB) → CHW; per
// batch: zero-pad bottom/right to a multiple of 32 and pack into one
// Float32Array [N, 3, H, W] (collate.ts).
//
// Determinism: the epoch's order and every flip are drawn on the main thread
// from (seed, epoch) before any decoding starts (random.ts); decoding runs in a
// worker pool and may finish in any order, but batches are assembled and yielded
// in plan order, so two loaders with the same seed give identical batches, and
// `iterate({ epoch, startBatch })` resumes mid-epoch exactly.
//
// Throughput: `prefetch` batches are decoded ahead of the one being consumed;
// `stats.waitMs` is how long the consumer has waited for data in total.
import type { Sharp } from 'sharp';
import { LaxrayError } from '../errors.js';
import type { Dataset, DatasetImage } from './coco.js';
import { collate, type Batch, type ImageTargets, type PreparedImage, type TrainingBatch } from './collate.js';
import { DecodeError, type DecodeRequest, type DecodeResult, type ImageSource } from './decode.js';
import { DecodePool, PoolClosedError, defaultMaxInFlight, defaultWorkerCount } from './decode_pool.js';
import { mixSeed, mulberry32, shuffleInPlace } from './random.js';
import { checkShard, epochLength, shardBatches, type Shard } from './shard.js';
import { DEFAULT_MEAN, DEFAULT_SCALE, DEFAULT_SIZE_DIVISOR, DEFAULT_STD, padTo, scaleFactors, transformBoxes } from './transforms.js';

/** The image transforms shared by training and inference (defaults: the paper's). */
export interface PipelineOptions {
  /** Resize target; see transforms.ts `resizedSize`. Default [1333, 800]. */
  scale?: readonly [number, number];
  /** Keep the aspect ratio (default true). */
  keepRatio?: boolean;
  /** RGB mean / std on the 0..255 scale. Default ImageNet's (123.675, 116.28, 103.53) / (58.395, 57.12, 57.375). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Batch H and W are padded up to a multiple of this. Default 32. */
  sizeDivisor?: number;
  /** Worker threads for decoding/normalising; 0 = the calling thread. Default: one per core, at most 8. */
  workers?: number;
  /**
   * Images decoded at once (sharp runs them on libuv's threadpool, which the
   * addon's async work shares). Default: UV_THREADPOOL_SIZE − 1, at least 2.
   */
  decodeConcurrency?: number;
}

export interface LoaderOptions extends PipelineOptions {
  /** Images per batch (default 8, the paper's). */
  batchSize?: number;
  /** Training mode: shuffle, random flips, targets (default true). */
  train?: boolean;
  /** Shuffle each epoch (default: `train`). */
  shuffle?: boolean;
  /** Probability of a horizontal flip per image (default 0.5 when training, else 0). */
  flipProbability?: number;
  /** Seed of the shuffle and flips (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Leave out images with no annotations at all (default: `train`, as mmdetection's filter_empty_gt). */
  filterEmpty?: boolean;
  /** Batches decoded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /**
   * A missing / corrupt image: 'throw' (default) ends the epoch with an
   * INVALID_IMAGE error naming the file and image id; 'skip' leaves the image out
   * of its batch, records it in `stats.skipped` and calls `onSkip`.
   */
  onError?: 'throw' | 'skip';
  onSkip?: (error: LaxrayError) => void;
  /** Check that each decoded file has the dataset's width/height (default true). */
  checkImageSize?: boolean;
  /**
   * Data-parallel training: this process's share of each epoch (shard.ts, as
   * PyTorch's DistributedSampler). Batches then hold batchSize images of a
   * global batch of batchSize × worldSize. Default { rank: 0, worldSize: 1 }.
   */
  shard?: Shard;
}

/** One planned batch: which images, flipped or not. */
export interface PlannedBatch {
  index: number;
  items: { image: DatasetImage; flip: boolean }[];
  /** Positions [start, end) of the epoch's permutation that the job's global batch covers. */
  start: number;
  end: number;
}

export interface LoaderStats {
  batches: number;
  images: number;
  skipped: { imageId: number; path: string; message: string }[];
  /** Total time the consumer waited for a batch that was not ready yet (ms). */
  waitMs: number;
}

interface ResolvedPipeline {
  scale: readonly [number, number];
  keepRatio: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  sizeDivisor: number;
}

function resolvePipeline(options: PipelineOptions): ResolvedPipeline {
  const p = {
    scale: options.scale ?? DEFAULT_SCALE,
    keepRatio: options.keepRatio ?? true,
    mean: options.mean ?? DEFAULT_MEAN,
    std: options.std ?? DEFAULT_STD,
    sizeDivisor: options.sizeDivisor ?? DEFAULT_SIZE_DIVISOR,
  };
  if (p.scale.length !== 2 || !p.scale.every((s) => Number.isFinite(s) && s >= 1)) {
    throw new LaxrayError('INVALID_ARGUMENT', `scale must be two numbers ≥ 1 such as [1333, 800], got ${JSON.stringify(p.scale)}`);
  }
  for (const [name, v] of [['mean', p.mean], ['std', p.std]] as const) {
    if (v.length !== 3 || !v.every(Number.isFinite) || (name === 'std' && v.some((s) => s === 0))) {
      throw new LaxrayError('INVALID_ARGUMENT', `${name} must be 3 finite numbers (RGB${name === 'std' ? ', non-zero' : ''}), got ${JSON.stringify(v)}`);
    }
  }
  if (!(Number.isInteger(p.sizeDivisor) && p.sizeDivisor >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `sizeDivisor must be a positive integer, got ${p.sizeDivisor}`);
  return p;
}

function positiveInt(name: string, v: number, min: number): number {
  if (!(Number.isInteger(v) && v >= min)) throw new LaxrayError('INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function newPool(options: PipelineOptions): DecodePool {
  return new DecodePool(positiveInt('workers', options.workers ?? defaultWorkerCount(), 0), positiveInt('decodeConcurrency', options.decodeConcurrency ?? defaultMaxInFlight(), 1));
}

type Settled = { ok: true; batch: TrainingBatch | undefined } | { ok: false; error: unknown };

/** A config's data section as the pipeline's transforms (resize, normalise, pad). */
export function pipelineOptions(data: { imageScale: readonly [number, number]; mean: readonly [number, number, number]; std: readonly [number, number, number]; padDivisor: number }): PipelineOptions {
  return { scale: data.imageScale, mean: data.mean, std: data.std, sizeDivisor: data.padDivisor };
}

/** Every image of `dataset` once, in order, unflipped, empty ones included: for detection and evaluation. */
export function evaluationLoader(dataset: Dataset, data: Parameters<typeof pipelineOptions>[0], options: { batchSize: number; workers: number }): DataLoader {
  return new DataLoader(dataset, { ...pipelineOptions(data), ...options, train: false, shuffle: false, flipProbability: 0, filterEmpty: false, prefetch: 1 });
}

/**
 * Batches of a Dataset for training or evaluation.
 *
 *     const loader = new DataLoader(dataset, { batchSize: 8, seed: 1 });
 *     for await (const batch of loader) { ... }   // epoch 0, then 1, ...
 *     await loader.close();
 */
export class DataLoader implements AsyncIterable<TrainingBatch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly train: boolean;
  readonly shuffle: boolean;
  readonly flipProbability: number;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly onError: 'throw' | 'skip';
  readonly shard: Shard;
  /** The images an epoch draws from (after filterEmpty), in dataset order. */
  readonly images: readonly DatasetImage[];
  readonly stats: LoaderStats = { batches: 0, images: 0, skipped: [], waitMs: 0 };
  /** Epoch the next `for await` iterates. */
  nextEpoch = 0;
  private readonly pipeline: ResolvedPipeline;
  private readonly pool: DecodePool;
  private readonly checkImageSize: boolean;
  private readonly onSkip: ((error: LaxrayError) => void) | undefined;
  // Reused memory (see `recycle`): per-image decode outputs and whole batches.
  private readonly imageBufferBytes: number;
  private readonly freeImageBuffers: ArrayBuffer[] = [];
  private readonly freeBatchBuffers: ArrayBuffer[] = [];
  private readonly outstanding = new WeakSet<ArrayBuffer>();
  private closed = false;

  constructor(dataset: Dataset, options: LoaderOptions = {}) {
    this.dataset = dataset;
    this.pipeline = resolvePipeline(options);
    this.batchSize = positiveInt('batchSize', options.batchSize ?? 8, 1);
    this.train = options.train ?? true;
    this.shuffle = options.shuffle ?? this.train;
    this.flipProbability = options.flipProbability ?? (this.train ? 0.5 : 0);
    if (!(this.flipProbability >= 0 && this.flipProbability <= 1)) throw new LaxrayError('INVALID_ARGUMENT', `flipProbability must be in [0, 1], got ${this.flipProbability}`);
    this.seed = options.seed ?? 0;
    if (!Number.isSafeInteger(this.seed)) throw new LaxrayError('INVALID_ARGUMENT', `seed must be an integer, got ${this.seed}`);
    this.dropLast = options.dropLast ?? false;
    this.prefetch = positiveInt('prefetch', options.prefetch ?? 2, 0);
    this.onError = options.onError ?? 'throw';
    if (this.onError !== 'throw' && this.onError !== 'skip') throw new LaxrayError('INVALID_ARGUMENT', `onError must be 'throw' or 'skip', got ${String(this.onError)}`);
    this.onSkip = options.onSkip;
    this.checkImageSize = options.checkImageSize ?? true;
    this.shard = checkShard(options.shard ?? { rank: 0, worldSize: 1 });
    const filterEmpty = options.filterEmpty ?? this.train;
    this.images = filterEmpty ? dataset.images.filter((im) => im.annotations.ids.length > 0) : dataset.images;
    this.pool = newPool(options);
    // Largest resized image: keep-ratio output sides are ≤ ceil(max(scale)) and ≤ ceil(min(scale)).
    const [s0, s1] = this.pipeline.scale;
    this.imageBufferBytes = 4 * 3 * (this.pipeline.keepRatio ? Math.ceil(s0) * Math.ceil(s1) : Math.round(s0) * Math.round(s1));
  }

  /**
   * Hands a batch's memory back for reuse by later batches. Optional, but
   * allocating a fresh ~100 MB batch costs more than filling it on many
   * machines, so a training loop should call it once it is done with a batch
   * (after the native step has consumed `data`). The batch must not be read
   * afterwards. Batches not from this loader, or recycled twice, are ignored.
   */
  recycle(batch: Batch): void {
    const buffer = batch.data.buffer as ArrayBuffer;
    if (!this.outstanding.has(buffer)) return;
    this.outstanding.delete(buffer);
    this.freeBatchBuffers.push(buffer);
    // Keep enough for the batches in flight; drop the smallest beyond that.
    this.freeBatchBuffers.sort((a, b) => b.byteLength - a.byteLength);
    this.freeBatchBuffers.length = Math.min(this.freeBatchBuffers.length, this.prefetch + 2);
  }

  /** Images of the whole job per step: batchSize × shard.worldSize. */
  get globalBatchSize(): number {
    return this.batchSize * this.shard.worldSize;
  }

  /** Positions of an epoch, padded so that every process gets as many images (= images.length with one process). */
  get epochLength(): number {
    return epochLength(this.images.length, this.shard.worldSize);
  }

  /** Batches (steps) per epoch. */
  get length(): number {
    const n = this.epochLength;
    return this.dropLast ? Math.floor(n / this.globalBatchSize) : Math.ceil(n / this.globalBatchSize);
  }

  /**
   * This process's batches of an epoch: a pure function of (seed, epoch,
   * shard), starting at permutation position `startImage` (images of the epoch
   * the whole job has consumed; see shard.ts).
   */
  plan(epoch: number, startImage = 0): PlannedBatch[] {
    positiveInt('epoch', epoch, 0);
    const order = this.images.map((_, i) => i);
    if (this.shuffle) shuffleInPlace(order, mulberry32(mixSeed(this.seed, epoch, 1)));
    const coin = mulberry32(mixSeed(this.seed, epoch, 2));
    const flips = order.map(() => this.flipProbability > 0 && coin() < this.flipProbability);
    const first = Math.ceil(startImage / this.globalBatchSize);
    return shardBatches(order.length, this.batchSize, this.shard, { startImage, dropLast: this.dropLast }).map((b, k) => ({
      index: first + k,
      items: b.positions.map((p) => ({ image: this.images[order[p]!]!, flip: flips[p]! })),
      start: b.start,
      end: b.end,
    }));
  }

  /** Iterates the next epoch (0, 1, 2, ... on successive loops). */
  [Symbol.asyncIterator](): AsyncIterator<TrainingBatch> {
    return this.iterate({ epoch: this.nextEpoch++ });
  }

  /**
   * Iterates one epoch, optionally from a batch index or from a position of
   * the epoch's permutation (to resume a run, also with another world size).
   */
  async *iterate(options: { epoch?: number; startBatch?: number; startImage?: number } = {}): AsyncGenerator<TrainingBatch, void, undefined> {
    if (this.closed) throw new LaxrayError('INVALID_ARGUMENT', 'this DataLoader is closed; create a new one');
    const epoch = options.epoch ?? 0;
    const startImage = options.startImage ?? positiveInt('startBatch', options.startBatch ?? 0, 0) * this.globalBatchSize;
    const batches = this.plan(epoch, positiveInt('startImage', startImage, 0));
    const pending: Promise<Settled>[] = [];
    let next = 0;
    const launch = (): void => {
      while (pending.length <= this.prefetch && next < batches.length) {
        pending.push(this.loadBatch(batches[next++]!, epoch).then((batch) => ({ ok: true, batch }) as const, (error: unknown) => ({ ok: false, error }) as const));
      }
    };
    for (;;) {
      // In flight: this batch and the `prefetch` after it (which keep decoding while we yield).
      launch();
      if (pending.length === 0) return;
      const t0 = performance.now();
      const settled = await pending.shift()!;
      this.stats.waitMs += performance.now() - t0;
      if (!settled.ok) throw settled.error;
      if (settled.batch) {
        this.stats.batches++;
        this.stats.images += settled.batch.metas.length;
        yield settled.batch;
      }
    }
  }

  /** Stops the decode workers. The loader cannot be used afterwards. */
  close(): Promise<void> {
    this.closed = true;
    this.freeBatchBuffers.length = 0;
    this.freeImageBuffers.length = 0;
    return this.pool.close();
  }

  private async loadBatch(planned: PlannedBatch, epoch: number): Promise<TrainingBatch | undefined> {
    const { pipeline } = this;
    const giveBack = (buffer: ArrayBuffer): void => {
      if (buffer.byteLength === this.imageBufferBytes && this.freeImageBuffers.length < (this.prefetch + 1) * this.batchSize) this.freeImageBuffers.push(buffer);
    };
    const results = await Promise.allSettled(
      planned.items.map(({ image, flip }) =>
        this.pool.decode(
          {
            source: { kind: 'path', path: image.path },
            scale: pipeline.scale,
            keepRatio: pipeline.keepRatio,
            flip,
            mean: pipeline.mean,
            std: pipeline.std,
            ...(this.checkImageSize ? { expected: { width: image.width, height: image.height } } : {}),
            output: this.freeImageBuffers.pop() ?? new ArrayBuffer(this.imageBufferBytes),
          },
          giveBack,
        ),
      ),
    );
    const prepared: PreparedImage[] = [];
    for (let k = 0; k < results.length; k++) {
      const r = results[k]!;
      const { image, flip } = planned.items[k]!;
      if (r.status === 'rejected') {
        const error = imageError(r.reason, `image id ${image.id} (${image.path})`, `epoch ${epoch}, batch ${planned.index}`);
        if (this.onError === 'throw') {
          for (const other of results) if (other.status === 'fulfilled') giveBack(other.value.data.buffer as ArrayBuffer);
          throw error;
        }
        this.stats.skipped.push({ imageId: image.id, path: image.path, message: error.message });
        this.onSkip?.(error);
        continue;
      }
      prepared.push(prepareTrainingImage(image, flip, r.value));
    }
    if (prepared.length === 0) return undefined;
    const [maxW, maxH] = prepared.reduce(([w, h], p) => [Math.max(w, p.meta.resizedWidth), Math.max(h, p.meta.resizedHeight)], [0, 0]);
    const bytes = 4 * prepared.length * 3 * padTo(maxH, pipeline.sizeDivisor) * padTo(maxW, pipeline.sizeDivisor);
    const fit = this.freeBatchBuffers.findLastIndex((b) => b.byteLength >= bytes); // smallest that fits
    const out = fit >= 0 ? this.freeBatchBuffers.splice(fit, 1)[0]! : new ArrayBuffer(bytes);
    const batch = collate(prepared, { sizeDivisor: pipeline.sizeDivisor, out });
    this.outstanding.add(out);
    for (const p of prepared) giveBack(p.data.buffer as ArrayBuffer);
    return { ...batch, targets: prepared.map((p) => p.targets!), epoch, index: planned.index, start: planned.start, end: planned.end };
  }
}

/** An image's meta from its decode: sizes before and after the resize and the scale between them. */
function decodedMeta(decoded: DecodeResult, identity: { imageId: number; fileName?: string; flipped: boolean }): PreparedImage['meta'] {
  const { scaleX, scaleY } = scaleFactors(decoded.originalWidth, decoded.originalHeight, decoded.width, decoded.height);
  return {
    imageId: identity.imageId,
    ...(identity.fileName !== undefined ? { fileName: identity.fileName } : {}),
    originalWidth: decoded.originalWidth,
    originalHeight: decoded.originalHeight,
    resizedWidth: decoded.width,
    resizedHeight: decoded.height,
    scaleX,
    scaleY,
    flipped: identity.flipped,
  };
}

/** Meta and targets of a decoded dataset image (boxes scaled, flipped, clipped to the resized image). */
function prepareTrainingImage(image: DatasetImage, flip: boolean, decoded: DecodeResult): PreparedImage {
  const meta = decodedMeta(decoded, { imageId: image.id, fileName: image.fileName, flipped: flip });
  const ann = image.annotations;
  const keep: number[] = [];
  const ignore: number[] = [];
  for (let j = 0; j < ann.ids.length; j++) (ann.ignore[j] ? ignore : keep).push(j);
  const rows = (idx: number[]): Float64Array => {
    const out = new Float64Array(4 * idx.length);
    idx.forEach((j, r) => out.set(ann.boxes.subarray(4 * j, 4 * j + 4), 4 * r));
    return out;
  };
  const size = { width: decoded.width, height: decoded.height };
  const flipWidth = flip ? decoded.width : undefined;
  const targets: ImageTargets = {
    boxes: transformBoxes(rows(keep), meta.scaleX, meta.scaleY, flipWidth, size),
    labels: Int32Array.from(keep, (j) => ann.labels[j]!),
    ignoreBoxes: transformBoxes(rows(ignore), meta.scaleX, meta.scaleY, flipWidth, size),
    annotationIds: keep.map((j) => ann.ids[j]!),
  };
  return { data: decoded.data, meta, targets };
}

/** `what` names the image (id and path, or input index); `where` the batch, when there is one. */
function imageError(reason: unknown, what: string, where?: string): LaxrayError {
  if (reason instanceof LaxrayError) return reason;
  if (reason instanceof PoolClosedError) return new LaxrayError('INVALID_ARGUMENT', `${what}: the loader / preprocessor was closed while this image was being prepared`, { cause: reason });
  const message = reason instanceof Error ? reason.message : String(reason);
  const hint =
    reason instanceof DecodeError && reason.kind === 'size-mismatch'
      ? ''
      : where
        ? '; replace or remove the file (or use onError: "skip" to leave such images out)'
        : '; check the input';
  return new LaxrayError('INVALID_IMAGE', `${what}: ${message}${hint}${where ? ` (${where})` : ''}`, { cause: reason });
}

/** What `prepare` accepts: a file path, an encoded image (JPEG/PNG/TIFF/... bytes) or a sharp instance. */
export type ImageInput = string | Uint8Array | Sharp;

function isSharp(v: unknown): v is Sharp {
  return typeof v === 'object' && v !== null && typeof (v as Sharp).toBuffer === 'function' && typeof (v as Sharp).metadata === 'function' && typeof (v as Sharp).clone === 'function';
}

/**
 * The inference path: the same transforms minus the flip, for inputs that are
 * not in a Dataset. Reuse one Preprocessor (it owns a worker pool); close it when done.
 */
export class Preprocessor {
  private readonly pipeline: ResolvedPipeline;
  private readonly pool: DecodePool;

  constructor(options: PipelineOptions = {}) {
    this.pipeline = resolvePipeline(options);
    this.pool = newPool(options);
  }

  /**
   * One input → a batch of one; an array → a batch in the same order. Meta
   * `imageId` is the input's index. Errors name the input (path or index).
   */
  async prepare(input: ImageInput | readonly ImageInput[]): Promise<Batch> {
    const inputs = Array.isArray(input) ? (input as readonly ImageInput[]) : [input as ImageInput];
    if (inputs.length === 0) throw new LaxrayError('INVALID_ARGUMENT', 'prepare() needs at least one image');
    const prepared = await Promise.all(inputs.map((item, i) => this.prepareOne(item, i)));
    return collate(prepared, { sizeDivisor: this.pipeline.sizeDivisor });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async prepareOne(input: ImageInput, index: number): Promise<PreparedImage> {
    const what = typeof input === 'string' ? `input ${index} (${input})` : `input ${index}`;
    let source: ImageSource;
    if (typeof input === 'string') source = { kind: 'path', path: input };
    else if (input instanceof Uint8Array) source = { kind: 'buffer', data: input };
    else if (isSharp(input)) {
      try {
        const { data, info } = await input.clone().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
        source = { kind: 'raw', data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 };
      } catch (err) {
        throw imageError(new DecodeError(`the sharp instance failed: ${(err as Error).message}`, 'corrupt'), what);
      }
    } else {
      throw new LaxrayError('INVALID_ARGUMENT', `${what}: expected a file path, a Buffer/Uint8Array of an encoded image or a sharp instance, got ${typeof input}`);
    }
    const request: DecodeRequest = { source, scale: this.pipeline.scale, keepRatio: this.pipeline.keepRatio, flip: false, mean: this.pipeline.mean, std: this.pipeline.std };
    let decoded: DecodeResult;
    try {
      decoded = await this.pool.decode(request);
    } catch (err) {
      throw imageError(err, what);
    }
    return {
      data: decoded.data,
      meta: decodedMeta(decoded, { imageId: index, ...(typeof input === 'string' ? { fileName: input } : {}), flipped: false }),
    };
  }
}

/** One-shot inference preprocessing on the calling thread (sharp still uses its own threads). */
export async function preprocess(input: ImageInput | readonly ImageInput[], options: Omit<PipelineOptions, 'workers'> = {}): Promise<Batch> {
  const p = new Preprocessor({ ...options, workers: 0 });
  try {
    return await p.prepare(input);
  } finally {
    await p.close();
  }
}
