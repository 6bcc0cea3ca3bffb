// Training, evaluation and run directories: the engine behind `laxray train`,
// `laxray detect` and `npm run demo`.
export { Trainer, type TrainerOptions, type TrainSummary, type TrainableDetector } from './trainer.js';
export type {
  TrainEvent,
  StartEvent,
  IterationEvent,
  NonFiniteEvent,
  CheckpointEvent,
  ValidationStartEvent,
  ValidationEvent,
  EpochEvent,
  WarningEvent,
  DoneEvent,
} from './events.js';
export {
  evaluate,
  evaluateDetector,
  evaluateDetections,
  detectDataset,
  datasetGroundTruth,
  challengingImageIds,
  toCocoDetection,
  type DetectingModel,
  type DetectDatasetOptions,
  type DatasetDetections,
  type EvaluateDetectorOptions,
  type Evaluation,
} from './evaluate_detector.js';
export {
  RUN_FILES,
  checkpointStem,
  readLatestCheckpoint,
  readLatestPointer,
  readRunConfig,
  resolveModelSource,
  restoreCheckpoint,
  writeCheckpoint,
  type LatestCheckpoint,
  type TrainingState,
  type LossRecord,
  type ValidationRecord,
  type CheckpointFiles,
  type LoadedCheckpoint,
} from '../checkpoint/run_dir.js';
export { loadConfigDatasets } from './datasets.js';
export { writeRunReport, summarySections, type RunReportFiles } from './report.js';
export { ProcessGroup } from './distributed/group.js';
export { resolveDistributed, workerDevice, TORCHRUN_ENV, type DistributedBackend, type DistributedOptions, type DistributedSettings } from './distributed/settings.js';
export { launchWorkers, type LaunchOptions } from './distributed/launcher.js';
export { evaluateSharded, validationShard } from './distributed/validation.js';
