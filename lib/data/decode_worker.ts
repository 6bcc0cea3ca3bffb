// Worker-thread entry of the decode pool (decode_pool.ts): receives
// { id, request } messages, answers { id, result } (its pixel buffer
// transferred, not copied) or { id, error }.
import { parentPort } from 'node:worker_threads';
import { DecodeError, decodeImage, type DecodeRequest } from './decode.js';

export interface WorkerRequest {
  id: number;
  request: DecodeRequest;
}

export type WorkerResponse =
  | { id: number; result: Awaited<ReturnType<typeof decodeImage>> }
  | { id: number; error: { message: string; kind: DecodeError['kind'] | 'internal' }; output?: ArrayBuffer };

const port = parentPort;
if (port) {
  port.on('message', (msg: WorkerRequest) => {
    decodeImage(msg.request).then(
      (result) => port.postMessage({ id: msg.id, result } satisfies WorkerResponse, [result.data.buffer as ArrayBuffer]),
      (err: unknown) => {
        // Hand the unused output buffer back so the caller can reuse it.
        const output = msg.request.output;
        port.postMessage(
          {
            id: msg.id,
            error: err instanceof DecodeError ? { message: err.message, kind: err.kind } : { message: err instanceof Error ? err.message : String(err), kind: 'internal' },
            ...(output ? { output } : {}),
          } satisfies WorkerResponse,
          output ? [output] : [],
        );
      },
    );
  });
}
