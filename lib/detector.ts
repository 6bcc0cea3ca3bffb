// Detector: the public face of the native network. Create one from a config
// (or a preset), load weights, inspect a forward pass, detect objects.
// All tensor work runs in the addon on worker threads; methods return Promises.
// Calls on one detector run one at a time, in call order (call_queue.ts), and
// arrays the caller owns are copied when the method is called, so the caller
// may reuse, rewrite or transfer them as soon as it returns.
import { LaxrayError } from './errors.js';
import { asLaxrayError, native, type HostArray, type NativeDetectorHandle, type NativeExecution, type NativeProcessGroup, type TensorData } from './native.js';
import { defaultConfig, deepMerge, resolveConfig, resolveOptimizerOptions, type LaxrayConfig, type LaxrayConfigInput, type OptimizerOptions } from './config/index.js';
import type { JsonObject } from './config/merge.js';
import { CallQueue } from './call_queue.js';
import sharp from 'sharp';
import { checkTargetLabels, padTo, preprocess, type Batch, type ImageInput, type TrainingBatch } from './data/index.js';
import { dualEnergyToRgb, readGrey16, type Grey16Image } from './data/dual_energy.js';
import { writeSafetensors, type TensorMap } from './checkpoint/safetensors.js';
import { readBackboneWeights, readWeights } from './checkpoint/weights.js';
import { resolveModelSource } from './checkpoint/run_dir.js';

/**
 * An input batch [N, 3, H, W]: normalised float32 as the data pipeline makes
 * it, or raw RGB uint8 (0..255), which is uploaded as bytes and normalised with
 * data.mean / data.std on the detector's device.
 */
export interface InputBatch {
  data: Float32Array | Uint8Array;
  shape: readonly number[];
}

/**
 * A raw dual-energy scan: the scanner's two 16-bit grey images (files, or
 * decoded pixels), turned into the 3-channel image by eq. 1 before detection.
 */
export interface DualEnergyInput {
  high: string | Grey16Image;
  low: string | Grey16Image;
}

export type SingleInput = ImageInput | DualEnergyInput;
export type DetectorInput = SingleInput | readonly SingleInput[] | InputBatch;

/** One detected object, in original image coordinates. */
export interface Detection {
  box: [number, number, number, number];
  score: number;
  /** Contiguous label 0..C−1. */
  label: number;
  /** Class name (config.classes[label]). */
  category: string;
}

/** What one training step did. */
export interface StepResult {
  /**
   * The weighted terms that were summed into `total` (cls, box, quality[, distribution]), plus
   * quality_floor, which is not a term: Σ H(target) / num_pos, the least the quality BCE can be on
   * this batch (BCE against a soft target t is at least its entropy H(t); ln 2 at t = 0.5).
   */
  losses: Record<string, number>;
  total: number;
  /** false: the loss, a gradient or a BN statistic was NaN/Inf and the step was skipped (weights, BN statistics and momentum unchanged). */
  finite: boolean;
  numPositives: number;
  /** Images in the step: this batch, or the job's global batch in data-parallel training. */
  images?: number;
  /** Gradient L2 norm before clipping. */
  gradNorm: number;
}

export type { OptimizerOptions } from './config/index.js';

/** What a trainStep runs with: the optimiser and the data-parallel group as of its call. */
interface StepSettings {
  optimizer: OptimizerOptions;
  group: NativeProcessGroup | null;
}

/** Top-level keys of a torchvision ResNet state dict that the backbone does not have (the classifier). */
const TORCHVISION_CLASSIFIER = ['fc.'];

export class Detector {
  /** The addon's calls on this model, one at a time in call order. */
  private readonly calls = new CallQueue();
  /** Settings for the next trainStep call (config.train's optimiser until configureOptimizer; no process group), and those the addon holds. */
  private settings: StepSettings;
  private optimizerInAddon: OptimizerOptions | null = null;
  private groupInAddon: NativeProcessGroup | null = null;

  private constructor(
    /** @internal */ readonly handle: NativeDetectorHandle,
    readonly config: LaxrayConfig,
  ) {
    const { momentum, weightDecay, gradClipNorm } = config.train;
    this.settings = { optimizer: { momentum, weightDecay, gradClipNorm }, group: null };
  }

  /** Builds a detector from a config (object, preset overrides, or a JSON file path); loads pretrained backbone weights when the config names them. */
  static async create(config: LaxrayConfigInput | LaxrayConfig | string = {}): Promise<Detector> {
    const resolved = resolveConfig(config);
    const handle = await native.createDetector(resolved.model, resolved.device, resolved.train.seed, executionOf(resolved));
    const detector = new Detector(handle, resolved);
    if (resolved.model.backbone.pretrained) await detector.loadBackboneWeights(resolved.model.backbone.pretrained);
    return detector;
  }

  /**
   * A trained detector from a run directory (its latest checkpoint and
   * config.json) or a weights file written by saveWeights (config in its
   * metadata). `overrides` change settings such as the device or test
   * thresholds; the pretrained backbone is not loaded again.
   *
   * The stored config gives the model and its pipeline, never the resources of
   * this process: device, threads, data.workers, data.prefetch and
   * data.maxInputPixels come from `overrides` or the defaults. A stored
   * data.imageScale above the pixel limit is refused, saying how to raise it.
   */
  static async load(runDirOrWeights: string, overrides: LaxrayConfigInput = {}): Promise<Detector> {
    const local = localResources(overrides);
    const limit = local.data.maxInputPixels;
    // resolved without a pixel limit first, so that an over-limit scale gets the message below
    const pinned = { ...local, model: { backbone: { pretrained: null } }, data: { ...local.data, maxInputPixels: Number.MAX_SAFE_INTEGER } };
    const source = await resolveModelSource(runDirOrWeights, deepMerge(overrides as JsonObject, pinned as JsonObject) as LaxrayConfigInput);
    const [long, short] = source.config.data.imageScale;
    if (long * short > limit) {
      throw new LaxrayError(
        'INVALID_CONFIG',
        `${runDirOrWeights}: its data.imageScale [${long}, ${short}] makes inputs of up to ${long * short} pixels, above data.maxInputPixels (${limit}). ` +
          'The limit is never taken from the file: to allow it, pass Detector.load(source, { data: { maxInputPixels: N } }) or laxray detect --max-input-pixels N',
      );
    }
    const detector = await Detector.create({ ...source.config, data: { ...source.config.data, maxInputPixels: limit } });
    await detector.loadWeights(source.weights);
    return detector;
  }

  get device(): string {
    return this.handle.device;
  }

  /** One forward pass (test mode), returning named intermediate tensors: backbone.c3..c5, fpn.p3..p7, head.pN.{cls,reg,quality}, la.pN.{w1,w2,x_new | w,x_new}. */
  async inspect(input: DetectorInput): Promise<Record<string, TensorData>> {
    return this.queued(this.toBatch(input), (batch) => this.handle.inspect(batch.data, [...batch.shape]));
  }

  /** All parameters and buffers by name (CPU copies). */
  async stateDict(): Promise<TensorMap> {
    return (await this.queued(null, () => this.handle.stateDict())) as TensorMap;
  }

  /** Writes the weights as safetensors (atomically), with the config in the metadata. */
  async saveWeights(file: string, metadata: Record<string, string> = {}): Promise<void> {
    await writeSafetensors(file, await this.stateDict(), { format: 'laxray', config: JSON.stringify(this.config), ...metadata });
  }

  /**
   * Loads weights saved by saveWeights, or any safetensors / PyTorch (.pth, .pt) file with laxray's or
   * mmdetection's names (nested checkpoints are unwrapped). Errors list missing/unexpected keys and shape mismatches.
   */
  async loadWeights(file: string): Promise<void> {
    await this.queued(readWeights(file), ({ tensors }) => this.handle.loadStateDict(tensors, { what: `weights file ${file}` }));
  }

  /** Loads a torchvision-named ResNet state dict (safetensors or PyTorch .pth) into the backbone; the classifier (fc.*) is ignored. */
  async loadBackboneWeights(file: string): Promise<void> {
    await this.queued(readBackboneWeights(file), ({ tensors }) =>
      this.handle.loadStateDict(tensors, { module: 'backbone', ignorePrefixes: TORCHVISION_CLASSIFIER, what: `backbone weights ${file}` }),
    );
  }

  /**
   * One SGD step on a training batch (from DataLoader): forward with the ATSS
   * assignment, losses, backward, optional clipping, update with `lr`. A
   * NaN/Inf loss, gradient or BN statistic skips the step and reports finite: false; a
   * skipped or failed step leaves weights, BN statistics and momentum as they
   * were. The batch is copied at the call; the step uses the optimiser
   * settings current at the call.
   */
  async trainStep(batch: TrainingBatch, lr: number): Promise<StepResult> {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new LaxrayError('INVALID_ARGUMENT', `trainStep: lr must be a finite number >= 0, got ${String(lr)}`);
    }
    checkTargetLabels(batch, this.config.model.head.numClasses);
    const images = ownPixels(batch.data, 'trainStep: batch.data');
    const shape = [...batch.shape];
    // Each image's extent as mmdetection's pad_shape (resized size rounded up to the pad divisor):
    // anchors on the padding added for larger images take no part in training.
    const [, , height, width] = shape;
    const divisor = this.config.data.padDivisor;
    const targets = batch.targets.map((t, i) => ({
      boxes: ownCopy(t.boxes, Float32Array, `trainStep: batch.targets[${i}].boxes`),
      labels: ownCopy(t.labels, Int32Array, `trainStep: batch.targets[${i}].labels`),
      padWidth: Math.min(padTo(batch.metas[i]?.resizedWidth ?? width!, divisor), width!),
      padHeight: Math.min(padTo(batch.metas[i]?.resizedHeight ?? height!, divisor), height!),
      width: batch.metas[i]?.resizedWidth ?? width!,
      height: batch.metas[i]?.resizedHeight ?? height!,
    }));
    const settings = this.settings; // as of this call
    return this.queued(null, () => {
      this.handSettingsToAddon(settings);
      return this.handle.trainStep(images, shape, targets, lr);
    });
  }

  /**
   * Data-parallel training (lib/train/distributed): the trainStep calls made
   * after it average the loss normalisers and gradients over the group's
   * processes; null detaches. Steps made before it run without it.
   */
  attachProcessGroup(group: { readonly handle: NativeProcessGroup } | null): void {
    const handle = group === null ? null : group.handle;
    try {
      this.handle.attachProcessGroup(handle); // checks the group now (device)
    } catch (err) {
      throw asLaxrayError(err);
    }
    this.groupInAddon = handle;
    this.settings = { ...this.settings, group: handle };
  }

  /** Collective over the attached group: every rank's weights and momentum become rank 0's. */
  async broadcastTrainingState(): Promise<void> {
    const settings = this.settings;
    await this.queued(null, () => {
      this.handSettingsToAddon(settings);
      return this.handle.broadcastTrainingState();
    });
  }

  /**
   * Sets momentum, weight decay and clipping for the trainStep calls made
   * after it (defaults: config.train). Checked with the config's rules; a bad
   * value throws INVALID_ARGUMENT naming the field.
   */
  configureOptimizer(options: OptimizerOptions): void {
    this.settings = { ...this.settings, optimizer: resolveOptimizerOptions(options) };
  }

  /** Momentum buffers by parameter name (for checkpoints). */
  async optimizerState(): Promise<TensorMap> {
    return (await this.queued(null, () => this.handle.optimizerState())) as TensorMap;
  }

  async loadOptimizerState(state: TensorMap): Promise<void> {
    const owned = ownTensors(state, 'loadOptimizerState: state');
    await this.queued(null, () => this.handle.loadOptimizerState(owned));
  }

  /** Detections for one image (-> Detection[]) or several / a batch (-> Detection[][]), in original image coordinates. */
  async detect(input: SingleInput): Promise<Detection[]>;
  async detect(input: readonly SingleInput[] | Batch | InputBatch): Promise<Detection[][]>;
  async detect(input: DetectorInput): Promise<Detection[] | Detection[][]> {
    const single = !Array.isArray(input) && !isInputBatch(input);
    const raw = await this.queued(this.toBatch(input), (batch) => this.handle.detect(batch.data, [...batch.shape], metasOf(batch)));
    const classes = this.classNames();
    const results = raw.map(({ boxes, scores, labels }) =>
      Array.from(scores, (score, i) => ({
        box: [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!] as [number, number, number, number],
        score,
        label: labels[i]!,
        category: classes[labels[i]!] ?? String(labels[i]),
      })),
    );
    return single ? results[0]! : results;
  }

  /** Class names by contiguous label. */
  classNames(): string[] {
    return [...(this.config.classes ?? [])];
  }

  /**
   * @internal images -> a normalised batch with the config's pipeline. What
   * the caller owns (a batch's data, encoded image bytes, 16-bit pixels) is
   * checked and copied before this returns: the rest runs later.
   */
  toBatch(input: DetectorInput): Promise<Batch | InputBatch> {
    try {
      if (isInputBatch(input)) return Promise.resolve(this.ownInputBatch(input));
      const { imageScale, mean, std, padDivisor } = this.config.data;
      const options = { scale: imageScale, mean, std, sizeDivisor: padDivisor };
      if (Array.isArray(input)) {
        const images = (input as readonly SingleInput[]).map(ownImage);
        return Promise.all(images.map(toImageInput)).then((decoded) => preprocess(decoded, options));
      }
      return toImageInput(ownImage(input as SingleInput)).then((image) => preprocess(image, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A copy of a caller's batch, after checking its shape against data.maxInputPixels. */
  private ownInputBatch(input: InputBatch | Batch): InputBatch | Batch {
    const shape = [...input.shape];
    if (shape.length !== 4 || shape[1] !== 3) {
      throw new LaxrayError('INVALID_ARGUMENT', `input batch shape must be [N, 3, H, W], got [${shape.join(', ')}]`);
    }
    const pixels = shape[2]! * shape[3]!;
    const limit = this.config.data.maxInputPixels;
    if (pixels > limit) {
      throw new LaxrayError(
        'INVALID_ARGUMENT',
        `input batch [${shape.join(', ')}]: ${pixels} pixels per image is above data.maxInputPixels (${limit}); resize the images, or raise data.maxInputPixels in the config if the memory is there`,
      );
    }
    const data = ownPixels(input.data, 'input batch data');
    // A pipeline batch keeps its metas: they map boxes back to each original image (and bound uint8 padding).
    if ('metas' in input && Array.isArray(input.metas)) return { data, shape: shape as Batch['shape'], metas: input.metas.map((m) => ({ ...m })) };
    return { data, shape };
  }

  /** Runs `job` on this model in its turn (after every call made before), turning errors into LaxrayError. */
  private queued<I, T>(input: I | Promise<I>, job: (input: I) => Promise<T>): Promise<T> {
    return this.calls.run(input, async (ready) => {
      try {
        return await job(ready);
      } catch (err) {
        throw asLaxrayError(err);
      }
    });
  }

  /**
   * Makes the addon's settings those a call was made with (called in the
   * queue, so a step runs with the settings of its call; the native calls are
   * cheap and take no lock).
   */
  private handSettingsToAddon({ optimizer, group }: StepSettings): void {
    if (optimizer !== this.optimizerInAddon) {
      this.handle.configureOptimizer(optimizer);
      this.optimizerInAddon = optimizer;
    }
    if (group !== this.groupInAddon) {
      this.handle.attachProcessGroup(group);
      this.groupInAddon = group;
    }
  }
}

/** The settings that size this process's resources: the caller's, else the defaults (never a stored config's). */
function localResources(overrides: LaxrayConfigInput) {
  const defaults = defaultConfig();
  return {
    device: overrides.device ?? defaults.device,
    threads: overrides.threads ?? defaults.threads,
    data: {
      workers: overrides.data?.workers ?? defaults.data.workers,
      prefetch: overrides.data?.prefetch ?? defaults.data.prefetch,
      maxInputPixels: overrides.data?.maxInputPixels ?? defaults.data.maxInputPixels,
    },
  };
}

/** A copy of a typed array the caller owns (it may be rewritten or transferred as soon as the call returns). */
/** A copy of a batch's pixels: normalised float32 or raw RGB bytes. */
function ownPixels(data: unknown, what: string): Float32Array | Uint8Array {
  if (data instanceof Uint8Array || data instanceof Float32Array) return data.slice();
  throw new LaxrayError('INVALID_ARGUMENT', `${what} must be a Float32Array (normalised) or a Uint8Array (raw RGB), got ${describeValue(data)}`);
}

function ownCopy<T extends HostArray>(array: unknown, type: abstract new (...args: never[]) => T, what: string): T {
  if (!(array instanceof type)) throw new LaxrayError('INVALID_ARGUMENT', `${what} must be a ${type.name}, got ${describeValue(array)}`);
  return array.slice() as T;
}

function ownTensors(tensors: TensorMap, what: string): TensorMap {
  const owned: TensorMap = {};
  for (const [name, t] of Object.entries(tensors)) {
    const data = t?.data;
    if (!(data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array)) {
      throw new LaxrayError('INVALID_ARGUMENT', `${what}['${name}'].data must be a Float32Array, Int32Array or Uint8Array, got ${describeValue(data)}`);
    }
    owned[name] = { data: data.slice(), shape: [...t.shape] };
  }
  return owned;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

/** The addon's per-image meta: the resized size and scale of each image (an InputBatch: the whole input, unscaled). */
function metasOf(batch: Batch | InputBatch) {
  if ('metas' in batch) {
    return batch.metas.map((m) => ({
      inputWidth: m.resizedWidth,
      inputHeight: m.resizedHeight,
      scaleX: m.scaleX,
      scaleY: m.scaleY,
      originalWidth: m.originalWidth,
      originalHeight: m.originalHeight,
    }));
  }
  const [n, , height, width] = batch.shape as number[];
  return Array.from({ length: n! }, () => ({ inputWidth: width!, inputHeight: height!, scaleX: 1, scaleY: 1, originalWidth: width!, originalHeight: height! }));
}

/** Bytes or pixels the caller owns, copied now; paths and sharp instances are passed on. */
function ownImage(input: SingleInput): SingleInput {
  if (input instanceof Uint8Array) return new Uint8Array(input);
  if (isDualEnergy(input)) {
    const own = (image: string | Grey16Image) => (typeof image === 'string' ? image : { ...image, data: image.data instanceof Uint16Array ? image.data.slice() : image.data });
    return { high: own(input.high), low: own(input.low) };
  }
  return input;
}

/** How the native detector runs (precision, layout): the config's top-level execution keys. */
function executionOf(config: LaxrayConfig): NativeExecution {
  const { precision, labelAwarePrecision, channelsLast, cudnnBenchmark } = config;
  return { precision, labelAwarePrecision, channelsLast, cudnnBenchmark, pixelMean: config.data.mean, pixelStd: config.data.std };
}

function isDualEnergy(input: unknown): input is DualEnergyInput {
  return typeof input === 'object' && input !== null && 'high' in input && 'low' in input;
}

/** A dual-energy pair becomes its eq.-1 image (as sharp raw RGB); other inputs pass through. */
async function toImageInput(input: SingleInput): Promise<ImageInput> {
  if (!isDualEnergy(input)) return input;
  const read = (image: string | Grey16Image) => (typeof image === 'string' ? readGrey16(image) : Promise.resolve(image));
  const [high, low] = await Promise.all([read(input.high), read(input.low)]);
  const name = (image: string | Grey16Image, which: string) => (typeof image === 'string' ? image : `the ${which}-energy image`);
  if (high.width !== low.width || high.height !== low.height || high.data.length !== high.width * high.height || low.data.length !== low.width * low.height) {
    throw new LaxrayError(
      'INVALID_IMAGE',
      `${name(input.high, 'high')} (${high.width}×${high.height}) and ${name(input.low, 'low')} (${low.width}×${low.height}) must be single-channel images of the same size from one scan`,
    );
  }
  return sharp(dualEnergyToRgb(high.data, low.data), { raw: { width: high.width, height: high.height, channels: 3 } });
}

function isInputBatch(input: unknown): input is InputBatch {
  const data = typeof input === 'object' && input !== null ? (input as InputBatch).data : undefined;
  return (data instanceof Float32Array || data instanceof Uint8Array) && Array.isArray((input as InputBatch).shape);
}
