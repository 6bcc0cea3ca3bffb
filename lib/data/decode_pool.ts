// A small pool of worker threads running decodeImage (decode_worker.ts).
// sharp's own decode/resize runs on libuv's threadpool either way; the workers
// add parallelism for the per-pixel normalise/transpose, which would otherwise
// run on (and block) the main thread. Results come back with their pixel
// buffers transferred, not copied.
//
// libuv's threadpool (UV_THREADPOOL_SIZE threads, 4 by default) is shared by
// the whole process: sharp, fs, and the addon's AsyncWorkers (the training
// step). So at most `maxInFlight` images are decoded at once, by default one
// less than the threadpool size: a training step is never queued behind a
// wall of decodes. On many-core machines start Node with a larger
// UV_THREADPOOL_SIZE (e.g. the core count) to decode more images at once.
//
// Size 0 runs everything on the calling thread (with the same cap). If workers
// cannot start at all (e.g. TypeScript sources loaded without tsx), the pool
// falls back to the calling thread once, with a process warning.
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker, whenWorkerStops } from '../worker_file.js';
import { DecodeError, decodeImage, type DecodeRequest, type DecodeResult } from './decode.js';
import type { WorkerRequest, WorkerResponse } from './decode_worker.js';

interface Task {
  id: number;
  request: DecodeRequest;
  resolve: (r: DecodeResult) => void;
  reject: (e: Error) => void;
  onReturnedOutput: ((b: ArrayBuffer) => void) | undefined;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Task>;
  started: boolean;
}

/** The pool was closed while a task was queued or running. */
export class PoolClosedError extends Error {
  constructor() {
    super('the decode pool was closed');
    this.name = 'PoolClosedError';
  }
}

/** libuv's threadpool size for this process (UV_THREADPOOL_SIZE, default 4, at most 1024). */
export function uvThreadpoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1024) : 4;
}

/** Images decoded at once by default: all but one libuv thread, at least 2. */
export function defaultMaxInFlight(): number {
  return Math.max(2, uvThreadpoolSize() - 1);
}

/** Default pool size: one worker per core, no more than can be busy at once, at most 8. */
export function defaultWorkerCount(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores, defaultMaxInFlight()));
}

export class DecodePool {
  readonly size: number;
  /** Images being decoded at once, over all workers (or inline). */
  readonly maxInFlight: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private active = 0;
  private nextId = 0;
  private inline: boolean;
  private closed = false;
  private startFailures = 0;

  constructor(size: number = defaultWorkerCount(), maxInFlight: number = defaultMaxInFlight()) {
    if (!(Number.isInteger(size) && size >= 0)) throw new RangeError(`worker count must be an integer ≥ 0, got ${size}`);
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new RangeError(`maxInFlight must be an integer ≥ 1, got ${maxInFlight}`);
    this.size = size;
    this.maxInFlight = maxInFlight;
    this.inline = size === 0;
  }

  /** True while decoding runs on the calling thread (size 0, or workers could not start). */
  get runsInline(): boolean {
    return this.inline;
  }

  /**
   * Decodes one image. `request.output`, if given, is transferred to the worker
   * (it becomes detached here) and comes back as the result's `data.buffer`, or,
   * when decoding fails, through `onReturnedOutput`.
   */
  decode(request: DecodeRequest, onReturnedOutput?: (buffer: ArrayBuffer) => void): Promise<DecodeResult> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    return new Promise<DecodeResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, request, resolve, reject, onReturnedOutput });
      this.pump();
    });
  }

  /** Stops the workers; tasks still queued or running are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new PoolClosedError();
    for (const task of this.queue.splice(0)) task.reject(error);
    const slots = this.slots.splice(0);
    for (const slot of slots) for (const task of slot.inFlight.values()) task.reject(error);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.active < this.maxInFlight && !this.closed) {
      if (this.inline) {
        const task = this.queue.shift()!;
        this.active++;
        decodeImage(task.request)
          .finally(() => {
            this.active--;
            this.pump();
          })
          .then(task.resolve, task.reject);
        continue;
      }
      // The least busy worker; a new one while all are busy and the pool is not full.
      let slot = this.slots.reduce<Slot | undefined>((best, s) => (!best || s.inFlight.size < best.inFlight.size ? s : best), undefined);
      if ((!slot || slot.inFlight.size > 0) && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const task = this.queue.shift()!;
      this.active++;
      slot.inFlight.set(task.id, task);
      if (slot.inFlight.size === 1) slot.worker.ref();
      const output = task.request.output;
      slot.worker.postMessage({ id: task.id, request: task.request } satisfies WorkerRequest, output ? [output] : []);
    }
  }

  private spawn(): Slot {
    const worker = startWorker(import.meta.url, './decode_worker');
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), started: false };
    worker.on('message', (msg: WorkerResponse) => {
      slot.started = true;
      this.startFailures = 0;
      const task = slot.inFlight.get(msg.id);
      if (!task) return;
      slot.inFlight.delete(msg.id);
      this.active--;
      if (slot.inFlight.size === 0) worker.unref();
      if ('result' in msg) task.resolve(msg.result);
      else {
        if (msg.output) task.onReturnedOutput?.(msg.output);
        task.reject(msg.error.kind === 'internal' ? new Error(msg.error.message) : new DecodeError(msg.error.message, msg.error.kind));
      }
      this.pump();
    });
    const fail = (err: Error): void => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return; // already handled (error then exit)
      this.slots.splice(index, 1);
      // Output buffers went to the dead worker (detached here): retry without them.
      const tasks = [...slot.inFlight.values()].map((task) => {
        const { output: _lost, ...request } = task.request;
        return { ...task, request };
      });
      slot.inFlight.clear();
      this.active -= tasks.length;
      if (this.closed) return;
      if (!slot.started) {
        // The worker died before answering anything: it probably cannot load at all.
        this.startFailures++;
        if (this.startFailures >= 2) {
          this.inline = true;
          process.emitWarning(`laxray: decode workers cannot start (${err.message}); decoding on the main thread instead`);
          this.queue.unshift(...tasks);
          this.pump();
          return;
        }
        this.queue.unshift(...tasks);
      } else {
        for (const task of tasks) task.reject(new Error(`a decode worker stopped unexpectedly: ${err.message}`));
      }
      this.pump();
    };
    whenWorkerStops(worker, fail);
    this.slots.push(slot);
    return slot;
  }
}
