// Progress of a training run as plain data: what Trainer.train() yields and
// Trainer emits (by `type`, and all of them as 'event'). The CLI draws bars from
// these or prints them as JSON lines; metrics.jsonl stores them.
import type { ValidationRecord } from '../checkpoint/run_dir.js';

export interface StartEvent {
  type: 'start';
  runDir: string;
  /** Iterations already done (> 0 when resuming). */
  iteration: number;
  epoch: number;
  batch: number;
  epochs: number;
  batchesPerEpoch: number;
  totalIterations: number;
  trainImages: number;
  valImages: number;
  device: string;
  /** The checkpoint resumed from, or null for a fresh run. */
  resumedFrom: string | null;
}

export interface IterationEvent {
  type: 'iteration';
  /** Iterations done, this one included (1 after the first step). */
  iteration: number;
  /** Epoch of this step (from 0) and the batch's index in it. */
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  totalIterations: number;
  lr: number;
  /** Weighted loss terms and their sum (NaN when not finite). */
  losses: Record<string, number>;
  total: number;
  finite: boolean;
  numPositives: number;
  gradNorm: number;
  images: number;
  /**
   * Seconds this step waited for its batch from the loader (decode, augment,
   * collate not yet done): 0 when the loader's workers keep up with training.
   */
  dataWaitSeconds: number;
  /** Throughput over the last few steps, data loading included. */
  imagesPerSecond: number;
  /** Seconds of training left at the current pace (validation not counted). */
  etaSeconds: number;
  elapsedSeconds: number;
}

/** A step whose loss or gradient was NaN/Inf: the native side skipped it (weights unchanged). */
export interface NonFiniteEvent {
  type: 'non-finite';
  iteration: number;
  epoch: number;
  batch: number;
  inARow: number;
  total: number;
  /** K: the run stops with TRAINING_DIVERGED when inARow reaches it. */
  limit: number;
  lastCheckpoint: string | null;
  message: string;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  iteration: number;
  epoch: number;
  batch: number;
  reason: 'interval' | 'epoch' | 'stop';
  weights: string;
  optimizer: string;
  state: string;
}

export interface ValidationStartEvent {
  type: 'validation-start';
  epoch: number;
  iteration: number;
  images: number;
}

export interface ValidationEvent extends ValidationRecord {
  type: 'validation';
  seconds: number;
  images: number;
  /** Per-class AP (0..1, null without ground truth), by class name. */
  perClassAP: Record<string, number | null>;
}

export interface EpochEvent {
  type: 'epoch';
  /** Epochs finished (1 after the first). */
  epoch: number;
  iteration: number;
  /** Mean of each finite loss over the epoch's steps (this session's part of it when resumed mid-epoch). */
  meanLosses: Record<string, number>;
  seconds: number;
}

export interface WarningEvent {
  type: 'warning';
  message: string;
}

export interface DoneEvent {
  type: 'done';
  iteration: number;
  epoch: number;
  /** false when stopped early (maxIterations or abort); resume to continue. */
  completed: boolean;
  seconds: number;
  nonFinite: number;
  lastCheckpoint: string | null;
  /** The final validation (null without a validation set). */
  validation: ValidationRecord | null;
  report: { lossPlot?: string; metricPlot?: string; summary?: string; detections?: string[] };
}

export type TrainEvent =
  | StartEvent
  | IterationEvent
  | NonFiniteEvent
  | CheckpointEvent
  | ValidationStartEvent
  | ValidationEvent
  | EpochEvent
  | WarningEvent
  | DoneEvent;
