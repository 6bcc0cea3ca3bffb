// loadTorchStateDict on a worker thread, so that unpickling and the strided
// copies of a large checkpoint never block the event loop. One short-lived
// worker per file; errors come back as the LaxrayErrors they were.
import { Worker } from 'node:worker_threads';
import { LaxrayError, type LaxrayErrorCode } from '../../errors.js';
import type { PyTorchStateDict } from './load.js';
import type { TorchContainer, TorchReadLimits } from './reader.js';
import type { WorkerInput } from './worker.js';

type WorkerAnswer = { result: PyTorchStateDict } | { error: { code: LaxrayErrorCode | null; message: string } };

export function loadTorchStateDictOffThread(file: string, container: TorchContainer, limits: TorchReadLimits): Promise<PyTorchStateDict> {
  const worker = createWorker({ file, container, limits });
  return new Promise<PyTorchStateDict>((resolve, reject) => {
    worker.once('message', (answer: WorkerAnswer) => {
      if ('result' in answer) resolve(answer.result);
      else if (answer.error.code !== null) reject(new LaxrayError(answer.error.code, answer.error.message));
      else reject(new Error(`reading ${file} failed in its worker: ${answer.error.message}`));
    });
    worker.once('error', (err) => reject(new LaxrayError('CHECKPOINT_ERROR', `reading ${file} failed in its worker: ${err.message}`, { cause: err })));
    worker.once('exit', (code) => reject(new LaxrayError('CHECKPOINT_ERROR', `reading ${file}: its worker exited (code ${code}) without an answer`)));
  }).finally(() => void worker.terminate());
}

function createWorker(input: WorkerInput): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    // From TypeScript sources (tsx): workers do not inherit tsx's loader; register it first.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./worker.ts', self).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, { eval: true, workerData: input });
  }
  return new Worker(new URL('./worker.js', self), { workerData: input });
}
