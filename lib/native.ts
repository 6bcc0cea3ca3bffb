// The only file that loads the addon. It finds the binary with node-gyp-build
// (a local build in build/Release, else the prebuild for this platform in
// prebuilds/; LAXRAY_ADDON_PATH overrides both) and declares the types of what
// the addon exports. Everything else imports `native` from here.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LaxrayError } from './errors.js';

/** Typed-array kinds that cross the boundary. */
export type HostArray = Float32Array | Uint8Array | Int32Array;
export type DType = 'float32' | 'uint8' | 'int32' | 'float64' | 'float16' | 'int64' | 'int16' | 'int8' | 'bool';

/** Host data plus shape, as the addon returns it: the array owns its data (a copy, never a view of a live tensor). */
export interface TensorData<T extends HostArray = HostArray> {
  data: T;
  shape: number[];
}

export interface NativeTensorHandle {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: string;
  toArray(): Promise<TensorData>;
  to(device: string): Promise<NativeTensorHandle>;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  deviceCount: number;
  devices: { index: number; name: string; totalMemoryBytes: number }[];
  intraOpThreads: number;
  interOpThreads: number;
  /** The CPU block cache (native/cpu_allocator.h): freed blocks of 256 KiB and more kept for reuse. */
  cpuCache: { limitBytes: number; cachedBytes: number; hits: number; misses: number };
}

/** How a native detector runs its tensor work (native/precision.h). */
export interface NativeExecution {
  precision: 'fp32' | 'tf32' | 'bf16' | 'fp16';
  labelAwarePrecision: 'fp32' | 'compute';
  channelsLast: boolean;
  cudnnBenchmark: boolean;
  /** data.mean / data.std: how uint8 batches are normalised on the device. */
  pixelMean?: readonly number[];
  pixelStd?: readonly number[];
}

/**
 * The addon's detector object (native/bindings/detector_bindings.cc). Typed
 * arrays passed in are copied before a method returns. Tensor calls wait for
 * the model's lock on a libuv pool thread: Detector (lib/detector.ts) queues
 * them so that one at a time reaches it. setTraining, configureOptimizer and
 * attachProcessGroup take no lock; they apply to the calls that start after them.
 */
export interface NativeDetectorHandle {
  readonly device: string;
  /** images: normalised float32, or raw RGB uint8 (normalised on the device with the execution's pixel mean/std). */
  inspect(images: Float32Array | Uint8Array, shape: number[]): Promise<Record<string, TensorData>>;
  stateDict(): Promise<Record<string, TensorData>>;
  loadStateDict(
    entries: Record<string, TensorData>,
    options: { module?: '' | 'backbone'; ignorePrefixes?: string[]; what?: string },
  ): Promise<void>;
  setTraining(on: boolean): void;
  trainStep(
    images: Float32Array | Uint8Array,
    shape: number[],
    /** width/height: the image's resized size in its slot (uint8 images: the rest is padding). padWidth/padHeight: the image's extent in the batch (mmdetection's pad_shape); absent: the whole batch. */
    targets: { boxes: Float32Array; labels: Int32Array; padWidth?: number; padHeight?: number; width?: number; height?: number }[],
    lr: number,
  ): Promise<{ losses: Record<string, number>; total: number; finite: boolean; numPositives: number; images: number; gradNorm: number }>;
  detect(
    images: Float32Array | Uint8Array,
    shape: number[],
    metas: { inputWidth: number; inputHeight: number; scaleX: number; scaleY: number; originalWidth: number; originalHeight: number }[],
  ): Promise<{ boxes: Float32Array; scores: Float32Array; labels: Int32Array }[]>;
  configureOptimizer(options: { momentum: number; weightDecay: number; gradClipNorm: number | null }): void;
  optimizerState(): Promise<Record<string, TensorData>>;
  loadOptimizerState(entries: Record<string, TensorData>): Promise<void>;
  /** Data-parallel training: the trainStep calls that start after it average over the group's processes (null detaches). */
  attachProcessGroup(group: NativeProcessGroup | null): void;
  /** Collective: rank 0's weights and momentum buffers into every rank's detector. */
  broadcastTrainingState(): Promise<void>;
}

/** The addon's c10d process group (native/bindings/distributed_bindings.cc). */
export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  sumOverRanks(values: Float64Array): Promise<Float64Array>;
  broadcastBytes(bytes: Uint8Array): Promise<Uint8Array>;
  allGatherBytes(bytes: Uint8Array): Promise<Uint8Array[]>;
  barrier(what?: string): Promise<void>;
  reportFailure(message: string): Promise<void>;
  close(): Promise<void>;
}

export interface NativeAtssAssignment {
  labels: Int32Array;
  matchedGt: Int32Array;
  maxIou: Float32Array;
  thresholds: Float32Array;
}

/** Test hook (native/bindings/test_hooks/head_check.cc): head outputs in, targets, losses and detections out. */
export interface NativeHeadCheckSpec {
  regression: 'delta' | 'distribution';
  regMax: number;
  numClasses: number;
  anchorScale: number;
  /** Per level: height, width (flattened). */
  featureSizes: number[];
  strides: number[];
  batch: number;
  /** [N, A, C] */
  clsLogits: Float32Array;
  /** delta: [N, A, 4]; distribution: [N, A, 4, regMax + 1] */
  boxRegression: Float32Array;
  /** [N, A] */
  qualityLogits: Float32Array;
  gtBoxes: Float32Array[];
  gtLabels: Int32Array[];
  /** Per image, for post-processing; empty: skip it. */
  metas: { inputWidth: number; inputHeight: number; scaleX: number; scaleY: number; originalWidth: number; originalHeight: number }[];
  /** Overrides of the post-processing defaults (nmsPre 1000, scoreThreshold 0.05, nmsIou 0.6, maxPerImage 100). */
  postprocess?: { nmsPre?: number; scoreThreshold?: number; nmsIou?: number; maxPerImage?: number; nms?: 'host' | 'device' };
  /** What the quality logits predict; default: 'iou' for the distribution head, 'centerness' for delta. */
  qualityTarget?: 'iou' | 'centerness';
  /** Per image, width and height of its extent in the batch (flattened): anchors beyond are invalid. Default: all valid. */
  padSizes?: number[];
}

export interface NativeHeadCheckResult {
  losses: Record<'cls' | 'box' | 'quality' | 'quality_floor' | 'total', number> & { distribution?: number };
  numPositive: number;
  qualityWeightSum: number;
  /** qualityWeight · Σ H(quality target) / num_pos: the least the quality loss can be on these targets. */
  qualityFloor: number;
  gradNorms: Record<'clsLogits' | 'boxRegression' | 'qualityLogits', number>;
  gradsFinite: boolean;
  targets: Record<
    'valid' | 'labels' | 'matchedGt' | 'boxTargets' | 'deltaTargets' | 'centerness' | 'distanceTargets' | 'distanceBins' | 'anchors',
    TensorData
  >;
  detections: { boxes: Float32Array; scores: Float32Array; labels: Int32Array }[];
}

/**
 * Bindings only tests call (native/bindings/test_hooks/). Development builds
 * (`npm run build:native`, setup) have them; the release binary
 * (`npm run prebuildify`) does not, and calling one there rejects with a
 * LaxrayError (NATIVE_LOAD_FAILED) that says so.
 */
export interface NativeTestHooks {
  /** LAcls with pseudo labels on several levels in one call (native/label_aware.cc does all levels at once). */
  labelAwareClsLevels(
    levels: { x: Float32Array; shape: number[] }[],
    weight: Float32Array,
    weightShape: number[],
    bias: Float32Array,
    a: number,
    b: number,
    c: number,
  ): Promise<Record<'xNew' | 'w1' | 'w2', TensorData>[]>;
  /** Occupies a worker for `ms` and resolves to the intra-op threads its tensor work gets. */
  computeThreadsProbe(ms: number): Promise<number>;
  /** Targets, losses (+ gradients) and detections for given head outputs. */
  headCheck(spec: NativeHeadCheckSpec, device: string): Promise<NativeHeadCheckResult>;
}

export const testHookNames: readonly (keyof NativeTestHooks)[] = ['headCheck', 'labelAwareClsLevels', 'computeThreadsProbe'];

/** What the addon exports (native/bindings/*); the test hooks in development builds only. */
export interface NativeAddon extends NativeTestHooks {
  runtimeInfo(): Promise<NativeRuntimeInfo>;
  setIntraOpThreads(threads: number): void;
  setCpuCacheLimit(bytes: number): void;
  emptyCpuCache(): void;
  /** Bytes in use on CUDA device `index` (synchronises it first), −1 without CUDA. For benchmarks. */
  cudaMemoryInUse(index: number): Promise<number>;
  tensorFrom(data: HostArray, shape: number[], device: string): Promise<NativeTensorHandle>;
  matmul(a: NativeTensorHandle, b: NativeTensorHandle): Promise<NativeTensorHandle>;
  /** `model` is the `model` section of a resolved LaxrayConfig; `execution` its top-level precision and layout keys. */
  createDetector(model: object, device: string, seed: number, execution?: NativeExecution): Promise<NativeDetectorHandle>;
  boxIou(a: Float32Array, b: Float32Array, device: string): Promise<Float32Array>;
  generalizedBoxIou(a: Float32Array, b: Float32Array, device: string): Promise<Float32Array>;
  nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Promise<Int32Array>;
  batchedNms(boxes: Float32Array, scores: Float32Array, classIds: Int32Array, iouThreshold: number): Promise<Int32Array>;
  sigmoidFocalLoss(
    logits: Float32Array,
    targets: Float32Array,
    alpha: number,
    gamma: number,
    reduction: 'none' | 'sum' | 'mean',
    device: string,
  ): Promise<Float32Array>;
  atssAssign(
    anchors: Float32Array,
    numAnchorsPerLevel: number[],
    gtBoxes: Float32Array,
    gtLabels: Int32Array,
    topk: number,
    numClasses: number,
    device: string,
  ): Promise<NativeAtssAssignment>;
  /** Resolves once all worldSize ranks have joined the rendezvous at masterAddr:masterPort. */
  createProcessGroup(options: {
    rank: number;
    worldSize: number;
    masterAddr: string;
    masterPort: number;
    backend: 'gloo' | 'nccl';
    timeoutMs: number;
    device: string;
    bucketBytes?: number;
  }): Promise<NativeProcessGroup>;
}

/** The package root: the nearest directory above this file holding binding.gyp. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'binding.gyp'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new LaxrayError('NATIVE_LOAD_FAILED', 'cannot find the laxray package root (binding.gyp)');
    dir = parent;
  }
  return dir;
}

let loaded: { addon: NativeAddon; file: string } | undefined;

/** Process-wide settings the addon reads when it loads (native/addon.cc); checked here so a bad one names itself. */
const LOAD_SETTINGS: readonly (readonly [string, string])[] = [
  ['LAXRAY_NUM_THREADS', 'intra-op threads (0 = one per core)'],
  ['LAXRAY_CPU_CACHE_MB', 'MiB of freed CPU memory kept for reuse (0 turns the cache off)'],
];

function checkLoadSettings(): void {
  for (const [name, meaning] of LOAD_SETTINGS) {
    const value = process.env[name];
    if (value !== undefined && value !== '' && !/^\d{1,12}$/.test(value)) {
      throw new LaxrayError('INVALID_ARGUMENT', `${name}=${value}: expected a whole number of ${meaning}`);
    }
  }
}

function load(): { addon: NativeAddon; file: string } {
  if (loaded) return loaded;
  checkLoadSettings();
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  let file: string;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    file = process.env.LAXRAY_ADDON_PATH ? path.resolve(process.env.LAXRAY_ADDON_PATH) : nodeGypBuild.resolve(root);
  } catch (err) {
    throw new LaxrayError(
      'NATIVE_LOAD_FAILED',
      `the laxray addon is not built (${(err as Error).message.split('\n')[0]}). Run \`npm run setup\` in ${root} ` +
        'to install LibTorch and build it.',
      { cause: err },
    );
  }
  try {
    loaded = { addon: require(file) as NativeAddon, file };
  } catch (err) {
    throw new LaxrayError(
      'NATIVE_LOAD_FAILED',
      `the laxray addon at ${file} could not be loaded: ${(err as Error).message}. If LibTorch moved or changed, ` +
        'rebuild with `npm run build:native` (see README: "How LibTorch is found").',
      { cause: err },
    );
  }
  return loaded;
}

/** Path of the binary in use. */
export function addonFile(): string {
  return load().file;
}

/**
 * The addon, with every function's errors turned into LaxrayError
 * (code NATIVE_ERROR, or INVALID_ARGUMENT for argument type errors). A test
 * hook that the addon lacks (a release build) rejects with NATIVE_LOAD_FAILED.
 */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get(_target, name: string) {
    const { addon, file } = load();
    const value = (addon as unknown as Record<string, unknown>)[name];
    if (value === undefined && isTestHook(name)) return missingTestHook(name, file);
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => {
      try {
        const result = (value as (...a: unknown[]) => unknown)(...args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(asLaxrayError(err))) : result;
      } catch (err) {
        throw asLaxrayError(err);
      }
    };
  },
});

function isTestHook(name: string): name is keyof NativeTestHooks {
  return (testHookNames as readonly string[]).includes(name);
}

function missingTestHook(name: keyof NativeTestHooks, file: string): () => Promise<never> {
  return () =>
    Promise.reject(
      new LaxrayError(
        'NATIVE_LOAD_FAILED',
        `${name}: the addon at ${file} was built without test hooks (release build); ` +
          'build with npm run build:native (the tests need a development build)',
      ),
    );
}

export function asLaxrayError(err: unknown): LaxrayError {
  if (err instanceof LaxrayError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LaxrayError(err instanceof TypeError ? 'INVALID_ARGUMENT' : 'NATIVE_ERROR', message, { cause: err });
}
