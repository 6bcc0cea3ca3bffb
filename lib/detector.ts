// Detector: the public face of the native network. Create one from a config
// (or a preset), load weights, inspect a forward pass, detect objects.
// All tensor work runs in the addon on worker threads; methods return Promises.
import { LaxrayError } from './errors.js';
import { asLaxrayError, native, type NativeDetectorHandle, type NativeExecution, type NativeProcessGroup, type TensorData } from './native.js';
import { resolveConfig, type LaxrayConfig, type LaxrayConfigInput } from './config/index.js';
import sharp from 'sharp';
import { checkTargetLabels, padTo, preprocess, type Batch, type ImageInput, type TrainingBatch } from './data/index.js';
import { dualEnergyToRgb, readGrey16, type Grey16Image } from './data/dual_energy.js';
import { writeSafetensors, type TensorMap } from './checkpoint/safetensors.js';
import { readBackboneWeights, readWeights } from './checkpoint/weights.js';

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
  /** false: the loss or a gradient was NaN/Inf and the step was skipped (weights unchanged). */
  finite: boolean;
  numPositives: number;
  /** Images in the step: this batch, or the job's global batch in data-parallel training. */
  images?: number;
  /** Gradient L2 norm before clipping. */
  gradNorm: number;
}

export interface OptimizerOptions {
  momentum: number;
  weightDecay: number;
  /** null: no clipping. */
  gradClipNorm: number | null;
}

/** Top-level keys of a torchvision ResNet state dict that the backbone does not have (the classifier). */
const TORCHVISION_CLASSIFIER = ['fc.'];

export class Detector {
  private constructor(
    /** @internal */ readonly handle: NativeDetectorHandle,
    readonly config: LaxrayConfig,
  ) {}

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
   */
  static async load(runDirOrWeights: string, overrides: LaxrayConfigInput = {}): Promise<Detector> {
    // The run-directory layout belongs to the trainer (lib/train/run_dir.ts).
    const { loadDetector } = await import('./train/load.js');
    return loadDetector(runDirOrWeights, overrides);
  }

  get device(): string {
    return this.handle.device;
  }

  /** One forward pass (test mode), returning named intermediate tensors: backbone.c3..c5, fpn.p3..p7, head.pN.{cls,reg,quality}, la.pN.{w1,w2,x_new | w,x_new}. */
  async inspect(input: DetectorInput): Promise<Record<string, TensorData>> {
    const batch = await this.toBatch(input);
    return call(() => this.handle.inspect(batch.data, [...batch.shape]));
  }

  /** All parameters and buffers by name (CPU copies). */
  async stateDict(): Promise<TensorMap> {
    return (await call(() => this.handle.stateDict())) as TensorMap;
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
    const { tensors } = await readWeights(file);
    await call(() => this.handle.loadStateDict(tensors, { what: `weights file ${file}` }));
  }

  /** Loads a torchvision-named ResNet state dict (safetensors or PyTorch .pth) into the backbone; the classifier (fc.*) is ignored. */
  async loadBackboneWeights(file: string): Promise<void> {
    const { tensors } = await readBackboneWeights(file);
    await call(() =>
      this.handle.loadStateDict(tensors, { module: 'backbone', ignorePrefixes: TORCHVISION_CLASSIFIER, what: `backbone weights ${file}` }),
    );
  }

  /**
   * One SGD step on a training batch (from DataLoader): forward with the ATSS
   * assignment, losses, backward, optional clipping, update with `lr`. A
   * NaN/Inf loss or gradient skips the update and reports finite: false.
   */
  async trainStep(batch: TrainingBatch, lr: number): Promise<StepResult> {
    checkTargetLabels(batch, this.config.model.head.numClasses);
    // Each image's extent as mmdetection's pad_shape (resized size rounded up to the pad divisor):
    // anchors on the padding added for larger images take no part in training.
    const [, , height, width] = batch.shape;
    const divisor = this.config.data.padDivisor;
    const targets = batch.targets.map((t, i) => ({
      boxes: t.boxes,
      labels: t.labels,
      padWidth: Math.min(padTo(batch.metas[i]?.resizedWidth ?? width, divisor), width),
      padHeight: Math.min(padTo(batch.metas[i]?.resizedHeight ?? height, divisor), height),
      width: batch.metas[i]?.resizedWidth ?? width,
      height: batch.metas[i]?.resizedHeight ?? height,
    }));
    return call(() => this.handle.trainStep(batch.data, [...batch.shape], targets, lr));
  }

  /**
   * Data-parallel training (lib/train/distributed): trainStep then averages
   * the loss normalisers and gradients over the group's processes; null detaches.
   */
  attachProcessGroup(group: { readonly handle: NativeProcessGroup } | null): void {
    try {
      this.handle.attachProcessGroup(group === null ? null : group.handle);
    } catch (err) {
      throw asLaxrayError(err);
    }
  }

  /** Collective over the attached group: every rank's weights and momentum become rank 0's. */
  async broadcastTrainingState(): Promise<void> {
    await call(() => this.handle.broadcastTrainingState());
  }

  /** Sets momentum, weight decay and clipping for trainStep (defaults: config.train). */
  configureOptimizer(options: OptimizerOptions): void {
    try {
      this.handle.configureOptimizer(options);
    } catch (err) {
      throw asLaxrayError(err);
    }
  }

  /** Momentum buffers by parameter name (for checkpoints). */
  async optimizerState(): Promise<TensorMap> {
    return (await call(() => this.handle.optimizerState())) as TensorMap;
  }

  async loadOptimizerState(state: TensorMap): Promise<void> {
    await call(() => this.handle.loadOptimizerState(state));
  }

  /** Detections for one image (-> Detection[]) or several / a batch (-> Detection[][]), in original image coordinates. */
  async detect(input: SingleInput): Promise<Detection[]>;
  async detect(input: readonly SingleInput[] | Batch | InputBatch): Promise<Detection[][]>;
  async detect(input: DetectorInput): Promise<Detection[] | Detection[][]> {
    const single = !Array.isArray(input) && !isInputBatch(input);
    const batch = await this.toBatch(input);
    const [, , height, width] = batch.shape as number[];
    const metas =
      'metas' in batch
        ? batch.metas.map((m) => ({
            inputWidth: m.resizedWidth,
            inputHeight: m.resizedHeight,
            scaleX: m.scaleX,
            scaleY: m.scaleY,
            originalWidth: m.originalWidth,
            originalHeight: m.originalHeight,
          }))
        : Array.from({ length: batch.shape[0]! }, () => ({ inputWidth: width!, inputHeight: height!, scaleX: 1, scaleY: 1, originalWidth: width!, originalHeight: height! }));
    const raw = await call(() => this.handle.detect(batch.data, [...batch.shape], metas));
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

  /** @internal images -> a normalised batch with the config's pipeline. */
  async toBatch(input: DetectorInput): Promise<Batch | InputBatch> {
    if (isInputBatch(input)) {
      if (input.shape.length !== 4 || input.shape[1] !== 3) {
        throw new LaxrayError('INVALID_ARGUMENT', `input batch shape must be [N, 3, H, W], got [${input.shape.join(', ')}]`);
      }
      return input;
    }
    const { imageScale, mean, std, padDivisor } = this.config.data;
    const options = { scale: imageScale, mean, std, sizeDivisor: padDivisor };
    if (Array.isArray(input)) return preprocess(await Promise.all((input as readonly SingleInput[]).map(toImageInput)), options);
    return preprocess(await toImageInput(input as SingleInput), options);
  }
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
  return typeof input === 'object' && input !== null && ((input as InputBatch).data instanceof Float32Array || (input as InputBatch).data instanceof Uint8Array) && Array.isArray((input as InputBatch).shape);
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asLaxrayError(err);
  }
}
