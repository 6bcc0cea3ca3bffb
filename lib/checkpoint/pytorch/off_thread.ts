// loadTorchStateDict on a worker thread, so that unpickling and the strided
// copies of a large checkpoint never block the event loop. One short-lived
// worker per file; errors come back as the LaxrayErrors they were.
import { LaxrayError, type LaxrayErrorCode } from '../../errors.js';
import { startWorker, whenWorkerStops } from '../../worker_file.js';
import type { PyTorchStateDict } from './load.js';
import type { TorchContainer, TorchReadLimits } from './reader.js';
import type { WorkerInput } from './worker.js';

type WorkerAnswer = { result: PyTorchStateDict } | { error: { code: LaxrayErrorCode | null; message: string } };

export function loadTorchStateDictOffThread(file: string, container: TorchContainer, limits: TorchReadLimits): Promise<PyTorchStateDict> {
  const workerData: WorkerInput = { file, container, limits };
  const worker = startWorker(import.meta.url, './worker', { workerData });
  return new Promise<PyTorchStateDict>((resolve, reject) => {
    worker.once('message', (answer: WorkerAnswer) => {
      if ('result' in answer) resolve(answer.result);
      else if (answer.error.code !== null) reject(new LaxrayError(answer.error.code, answer.error.message));
      else reject(new Error(`reading ${file} failed in its worker: ${answer.error.message}`));
    });
    whenWorkerStops(worker, (err, code) =>
      reject(
        code === null
          ? new LaxrayError('CHECKPOINT_ERROR', `reading ${file} failed in its worker: ${err.message}`, { cause: err })
          : new LaxrayError('CHECKPOINT_ERROR', `reading ${file}: its worker exited (code ${code}) without an answer`),
      ),
    );
  }).finally(() => void worker.terminate());
}
