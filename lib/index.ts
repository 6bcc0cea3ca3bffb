// laxray's public API. Each facet lives in its own module; this file only
// re-exports them.
export { LaxrayError, type LaxrayErrorCode } from './errors.js';
export { emptyCpuCache, runtimeInfo, setCpuCacheLimit, setThreads, type RuntimeInfo } from './runtime.js';
export { resolveDeviceName, type DeviceName } from './device.js';
export type { DType, HostArray, TensorData } from './tensor.js';
export {
  Detector,
  type Detection,
  type DetectorInput,
  type InputBatch,
  type OptimizerOptions,
  type StepResult,
} from './detector.js';
export {
  resolveConfig,
  defaultConfig,
  presets,
  effectiveLr,
  learningRateAt,
  type LaxrayConfig,
  type LaxrayConfigInput,
} from './config/index.js';
export { Trainer, evaluate, type TrainerOptions, type TrainEvent, type TrainSummary, type Evaluation } from './train/index.js';
export { ProcessGroup, resolveDistributed, type DistributedOptions, type DistributedSettings } from './train/index.js';
export { evaluateCoco, evaluateCocoFiles, type CocoEvalResult, type CocoStats } from './eval/index.js';
export * as data from './data/index.js';
export * as synth from './data/synth/index.js';
export * as study from './study/index.js';
export * as ops from './ops.js';
