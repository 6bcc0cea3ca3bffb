// Data: COCO datasets, OPIXray conversion, the training / inference input
// pipeline, and dual-energy pre-processing (the synthetic generator is its own facet: lib/data/synth).
export {
  loadCocoDataset,
  parseCocoDataset,
  subsetDataset,
  verifyDatasetImages,
  describeReport,
  type BoxPolicy,
  type CocoLoadOptions,
  type Dataset,
  type DatasetCategory,
  type DatasetImage,
  type DatasetReport,
  type ImageAnnotations,
  type BoxChange,
  type BoxDrop,
} from './coco.js';
export { convertOpixray, writeOpixrayCoco, OPIXRAY_CLASSES, type OpixrayOptions, type OpixrayResult, type OpixrayReport, type CocoJson } from './opixray.js';
export { collate, checkTargetLabels, type Batch, type TrainingBatch, type ImageMeta, type ImageTargets, type PreparedImage, type CollateOptions } from './collate.js';
export {
  DataLoader,
  evaluationLoader,
  pipelineOptions,
  Preprocessor,
  preprocess,
  type ImageInput,
  type LoaderOptions,
  type LoaderStats,
  type PipelineOptions,
  type PlannedBatch,
} from './loader.js';
export {
  DEFAULT_MEAN,
  DEFAULT_STD,
  DEFAULT_SCALE,
  DEFAULT_SIZE_DIVISOR,
  resizedSize,
  scaleFactors,
  transformBoxes,
  boxesToOriginal,
  flipBoxes,
  padTo,
  normalizeToCHW,
  normalizationTable,
  type ResizeOptions,
} from './transforms.js';
export { mulberry32, mixSeed, shuffleInPlace, type Random } from './random.js';
export {
  dualEnergyToRgb,
  dualEnergyChannel3,
  dualEnergyPairToRgb,
  convertDualEnergyPair,
  convertDualEnergyFolder,
  readGrey16,
  writeGrey16Png,
  writeRgb8Png,
  type Grey16Image,
  type Rgb8Image,
  type DualEnergyFolderOptions,
  type DualEnergyFolderReport,
} from './dual_energy.js';
