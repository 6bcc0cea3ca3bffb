/**
 * The one error type laxray throws. `code` is stable (match on it in code);
 * `message` names the offending file / field / id and says what to do.
 */
export type LaxrayErrorCode =
  | 'NATIVE_LOAD_FAILED' // the addon could not be loaded (not built, wrong libtorch)
  | 'NATIVE_ERROR' // the addon rejected an operation (shape mismatch, bad argument, ...)
  | 'INVALID_ARGUMENT' // an API argument has the wrong type, size or value
  | 'INVALID_CONFIG' // a config file or object does not match the schema
  | 'INVALID_DATASET' // a COCO / OPIXray dataset has problems (all are listed)
  | 'INVALID_DETECTIONS' // a detections/results file has problems
  | 'INVALID_IMAGE' // an image is missing, corrupt or of the wrong kind
  | 'IO_ERROR' // a file could not be read or written
  | 'TRAINING_DIVERGED' // too many non-finite losses in a row
  | 'DISTRIBUTED_ERROR' // a data-parallel job's rendezvous or collective failed (a rank stopped, a timeout)
  | 'CHECKPOINT_ERROR'; // a checkpoint / weights file is missing, truncated or mismatched

export class LaxrayError extends Error {
  readonly code: LaxrayErrorCode;
  /** Individual problems when one error reports many (e.g. dataset validation). */
  readonly details: readonly string[];

  constructor(code: LaxrayErrorCode, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LaxrayError';
    this.code = code;
    this.details = options.details ?? [];
  }
}
