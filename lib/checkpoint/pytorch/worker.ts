// Worker-thread entry of off_thread.ts: reads one checkpoint, answers
// { result } with the tensors' buffers transferred (not copied), or { error }.
import { parentPort, workerData } from 'node:worker_threads';
import { LaxrayError } from '../../errors.js';
import { loadTorchStateDict } from './load.js';
import type { TorchContainer, TorchReadLimits } from './reader.js';

export interface WorkerInput {
  file: string;
  container: TorchContainer;
  limits: TorchReadLimits;
}

const port = parentPort;
if (port) {
  const { file, container, limits } = workerData as WorkerInput;
  loadTorchStateDict(file, container, limits).then(
    (result) => port.postMessage({ result }, [...result.tensors.values()].map((t) => t.bytes.buffer as ArrayBuffer)),
    (err: unknown) =>
      port.postMessage({
        error: err instanceof LaxrayError ? { code: err.code, message: err.message } : { code: null, message: err instanceof Error ? (err.stack ?? err.message) : String(err) },
      }),
  );
}
