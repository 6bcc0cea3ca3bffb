// Starting a worker thread on a module next to the caller, from the compiled
// package (dist/, `.js`) and from the TypeScript sources (tsx, `.ts`) alike,
// and hearing once when it dies.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A Worker running `entry` (a path without extension, e.g. './decode_worker')
 * relative to the module `from` (the caller's import.meta.url).
 */
export function startWorker(from: string, entry: string, options: WorkerOptions = {}): Worker {
  if (from.endsWith('.ts')) {
    // Running from TypeScript sources (tsx): workers do not inherit tsx's
    // loader, so register it inside the worker before loading the entry.
    const tsx = import.meta.resolve('tsx/esm/api');
    const url = new URL(`${entry}.ts`, from).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    return new Worker(code, { ...options, eval: true });
  }
  return new Worker(new URL(`${entry}.js`, from), options);
}

/**
 * Calls `onStop` once, when `worker` throws (`exitCode` null) or exits
 * (a worker that throws also exits: only the first is reported).
 */
export function whenWorkerStops(worker: Worker, onStop: (err: Error, exitCode: number | null) => void): void {
  let stopped = false;
  const stop = (err: Error, exitCode: number | null): void => {
    if (stopped) return;
    stopped = true;
    onStop(err, exitCode);
  };
  worker.on('error', (err) => stop(err, null));
  worker.on('exit', (code) => stop(new Error(`worker exited with code ${code}`), code));
}
