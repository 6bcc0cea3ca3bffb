// Drawing TrainEvents for people (progress bars on a terminal, periodic lines
// in a log) or machines (one JSON object per line). Used by `laxray train` and
// `laxray demo`; the Trainer itself only produces data.
import cliProgress from 'cli-progress';
import type { TrainEvent } from './events.js';
import { formatDuration } from './duration.js';

export { formatDuration };

export interface ProgressOptions {
  /** JSON lines on `out` (stdout) instead of bars. */
  json?: boolean;
  /** false: no bars or lines (the final summary is still printed by the caller). */
  progress?: boolean;
  /** Where JSON lines go. Default process.stdout. */
  out?: NodeJS.WritableStream;
  /** Where bars and log lines go. Default process.stderr. */
  err?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Prefix of log lines. */
  label?: string;
}

export interface ProgressPrinter {
  onEvent(event: TrainEvent): void;
  /** A line of text above the bars (or on its own when there are none). */
  log(line: string): void;
  stop(): void;
}


const pct = (v: number | null | undefined): string => (v === null || v === undefined || v < 0 ? '-' : (100 * v).toFixed(1));

function lossText(losses: Record<string, number>): string {
  return Object.entries(losses)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k} ${Number.isFinite(v) ? v.toFixed(3) : 'NaN'}`)
    .join(' ');
}

/** One readable line per event (null for events not worth a line on their own). */
export function describeEvent(e: TrainEvent): string | null {
  switch (e.type) {
    case 'start':
      return e.resumedFrom
        ? `resuming ${e.runDir} at iteration ${e.iteration} (epoch ${e.epoch + 1}, batch ${e.batch}) from ${e.resumedFrom}`
        : `training ${e.epochs} epochs × ${e.batchesPerEpoch} iterations on ${e.trainImages} images (${e.valImages} for validation), device ${e.device}, run ${e.runDir}`;
    case 'iteration':
      return (
        `epoch ${e.epoch + 1} it ${e.iteration}/${e.totalIterations}  loss ${Number.isFinite(e.total) ? e.total.toFixed(4) : 'NaN'} (${lossText(e.losses)})  ` +
        `lr ${e.lr.toExponential(2)}  ${e.imagesPerSecond.toFixed(1)} img/s  eta ${formatDuration(e.etaSeconds)}`
      );
    case 'non-finite':
      return `warning: ${e.message}`;
    case 'checkpoint':
      return e.reason === 'interval' && e.iteration === 0 ? null : `checkpoint (${e.reason}) at iteration ${e.iteration}: ${e.weights}`;
    case 'validation-start':
      return `validating on ${e.images} images...`;
    case 'validation':
      return (
        `validation after epoch ${e.epoch}: AP ${pct(e.stats.AP)}  AP50 ${pct(e.stats.AP50)}  AP75 ${pct(e.stats.AP75)}  mAP50 ${pct(e.mAP50)}` +
        (e.challenging ? `  | challenging subset (${e.challenging.images} images): AP ${pct(e.challenging.stats.AP)} AP50 ${pct(e.challenging.stats.AP50)}` : '') +
        `  (${e.seconds.toFixed(1)} s)`
      );
    case 'epoch':
      return `epoch ${e.epoch} done in ${formatDuration(e.seconds)}: ${lossText(e.meanLosses)}${e.meanLosses.total !== undefined ? ` total ${e.meanLosses.total.toFixed(4)}` : ''}`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'done':
      return e.completed ? `done: ${e.iteration} iterations in ${formatDuration(e.seconds)}` : `stopped at iteration ${e.iteration}; continue with --resume`;
  }
}

export function createProgressPrinter(options: ProgressOptions = {}): ProgressPrinter {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const label = options.label ?? 'train';
  if (options.json) {
    return {
      onEvent: (e) => void out.write(JSON.stringify(e) + '\n'),
      log: (line) => void err.write(`${line}\n`),
      stop: () => undefined,
    };
  }
  if (options.progress === false) {
    return { onEvent: () => undefined, log: (line) => void err.write(`${line}\n`), stop: () => undefined };
  }
  const tty = (err as NodeJS.WriteStream).isTTY === true;
  if (!tty) {
    // a log file: a line every ~2% of the run (and at least every 30 s), plus every other event
    let lastLine = 0;
    let every = 1;
    return {
      onEvent(e) {
        if (e.type === 'start') every = Math.max(1, Math.floor(e.totalIterations / 50));
        if (e.type === 'iteration') {
          const now = performance.now();
          if (e.iteration % every !== 0 && e.iteration !== e.totalIterations && now - lastLine < 30_000 && e.finite) return;
          lastLine = now;
        }
        const line = describeEvent(e);
        if (line !== null) err.write(`${label}: ${line}\n`);
      },
      log: (line) => void err.write(`${line}\n`),
      stop: () => undefined,
    };
  }
  const bars = new cliProgress.MultiBar(
    {
      stream: err as NodeJS.WriteStream,
      hideCursor: true,
      clearOnComplete: false,
      format: `${label} |{bar}| {value}/{total} it  epoch {epoch}  loss {loss}  lr {lr}  {ips} img/s  eta {eta}`,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  return {
    onEvent(e) {
      if (e.type === 'start') {
        bars.log(`${describeEvent(e)}\n`);
        bar = bars.create(e.totalIterations, e.iteration, { epoch: `${e.epoch + 1}/${e.epochs}`, loss: '-', lr: '-', ips: '-', eta: '-' });
        return;
      }
      if (e.type === 'iteration') {
        bar?.update(e.iteration, {
          epoch: `${e.epoch + 1}/${Math.ceil(e.totalIterations / e.batchesPerEpoch)}`,
          loss: Number.isFinite(e.total) ? e.total.toFixed(4) : 'NaN',
          lr: e.lr.toExponential(2),
          ips: e.imagesPerSecond.toFixed(1),
          eta: formatDuration(e.etaSeconds),
        });
        return;
      }
      const line = describeEvent(e);
      if (line !== null) bars.log(`${line}\n`);
    },
    log: (line) => bars.log(`${line}\n`),
    stop: () => bars.stop(),
  };
}
