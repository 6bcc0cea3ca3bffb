// The benchmark's side of the PyTorch-eager peer (scripts/bench/peer/atss_peer.py):
// starts it under a Python that has torch and torchvision, sends it laxray's
// config and weights, and runs detections in it. Benchmarks only.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'atss_peer.py');

/** The Python to run the peer with: LAXRAY_BENCH_PYTHON, else Debian's /usr/bin/python3 (python3-torch matches Debian's LibTorch). */
export function peerPython(): string {
  return process.env.LAXRAY_BENCH_PYTHON ?? '/usr/bin/python3';
}

/** null when the peer can run, else why not (one line). */
export function peerUnavailable(): string | null {
  const probe = spawnSync(peerPython(), ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${peerPython()} cannot be started (${probe.error.message})`;
  if (probe.status !== 0) return `${peerPython()} cannot import torch (${probe.stderr.trim().split('\n').at(-1) ?? ''})`;
  return null;
}

export interface PeerDetection {
  box: [number, number, number, number];
  score: number;
  label: number;
}

export interface ImageMetaInput {
  inputWidth: number;
  inputHeight: number;
  scaleX: number;
  scaleY: number;
  originalWidth: number;
  originalHeight: number;
}

export class Peer {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static start(): Peer {
    const child = spawn(peerPython(), [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`peer: ${chunk.toString()}`));
    return new Peer(child);
  }

  private async request<T>(command: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(JSON.stringify(command) + '\n');
    const next = await this.lines.next();
    if (next.done) throw new Error(`the PyTorch peer exited (code ${this.child.exitCode})`);
    const reply = JSON.parse(next.value) as T & { error?: string };
    if (reply.error) throw new Error(`the PyTorch peer failed: ${reply.error}`);
    return reply;
  }

  /** Builds the peer's network from laxray's resolved `model` config and loads laxray's weights file. */
  load(model: object, weights: string, threads: number, device = 'cpu', precision = 'fp32'): Promise<{ threads: number; torch: string }> {
    return this.request({ cmd: 'load', config: model, weights, threads, device, precision });
  }

  /** Detections of the batch in the raw float32 file `input`, timed `repeats` times (ms, inside the peer). */
  detect(input: string, shape: number[], metas: ImageMetaInput[], repeats: number, returnDetections = false) {
    return this.request<{ ms: number[]; detections?: PeerDetection[][]; memory?: { maxAllocatedBytes: number; maxReservedBytes: number } }>({ cmd: 'detect', input, shape, metas, repeats, return: returnDetections });
  }

  async close(): Promise<void> {
    this.child.stdin.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    this.child.stdin.end();
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/**
 * How far two detection lists are apart: the same count, and pairwise (in
 * score order) the largest box and score differences and whether labels agree.
 */
export function compareDetections(a: PeerDetection[][], b: PeerDetection[][]) {
  let count = 0;
  let sameCount = true;
  let labelsAgree = true;
  let maxBoxDiff = 0;
  let maxScoreDiff = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? [];
    const y = b[i] ?? [];
    if (x.length !== y.length) sameCount = false;
    count += x.length;
    for (let k = 0; k < Math.min(x.length, y.length); k++) {
      if (x[k]!.label !== y[k]!.label) labelsAgree = false;
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(x[k]!.score - y[k]!.score));
      for (let j = 0; j < 4; j++) maxBoxDiff = Math.max(maxBoxDiff, Math.abs(x[k]!.box[j]! - y[k]!.box[j]!));
    }
  }
  return { detections: count, sameCount, labelsAgree, maxBoxDiff, maxScoreDiff };
}
