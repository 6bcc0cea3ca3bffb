// The LA study: methods × seeds trained on one synthetic benchmark, evaluated
// on its test split (with LA switched off as well, for LA models) and summed up
// in a report. `laxray study` is the command line for runStudy().
export { runStudy, study, type StudyOptions, type StudyEvent, type StudyResult, type PlannedRun } from './study.js';
export { STUDY_PROFILES, PROFILE_NAMES, studyProfile, type StudyProfile, type StudyBenchmark, type ProfileName } from './profiles.js';
export { STUDY_METHODS, DEFAULT_METHODS, REFERENCE_METHODS, studyMethods, runName, type StudyMethod } from './methods.js';
export { runConfig, runPaths, type RunRecord, type RunPaths, type RunState } from './run.js';
export { calibrate, estimateStudy, estimateRunSeconds, type Calibration, type MethodTiming, type StudyEstimate, type RunWork } from './estimate.js';
export { meanStd, pairedDifference, percentile, bootstrap, tQuantile975, confidenceInterval95, type MeanStd, type PairedDifference, type BootstrapResult } from './stats.js';
export { bootstrapStat, bootstrapDifference, resample, resamplable } from './bootstrap_ap.js';
export { confusionMatrix, addConfusion, summarizeConfusion, topConfusions, CONFUSION_RULE, type ConfusionMatrix, type ConfusionSummary } from './confusion.js';
export { compareDetections, UNCHANGED_IOU, type DetectionChanges } from './compare_detections.js';
export { laWeightStats, accumulateLaWeights, LogHistogram, type LevelWeightStats } from './la_weights.js';
export { aggregateStudy, type StudyAggregate, type MethodSummary, type LaAblation } from './aggregate.js';
export type { StudyReportFiles } from './report.js';
