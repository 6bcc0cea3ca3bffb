// Where a run directory keeps its weights: <run>/checkpoints/latest.json points
// at the newest complete checkpoint (written last, atomically, by the Trainer).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';

export interface LatestPointer {
  weights: string;
  optimizer?: string;
  state?: string;
  iteration?: number;
}

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, 'checkpoints');
}

export async function readLatestPointer(runDir: string): Promise<LatestPointer> {
  const file = path.join(checkpointsDir(runDir), 'latest.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new LaxrayError('CHECKPOINT_ERROR', `${runDir} has no checkpoint yet (${file} is missing); train first or pass a .safetensors file`);
  }
  try {
    const pointer = JSON.parse(text) as LatestPointer;
    if (typeof pointer.weights !== 'string') throw new Error('no "weights" field');
    return pointer;
  } catch (err) {
    throw new LaxrayError('CHECKPOINT_ERROR', `${file} is not a valid checkpoint pointer: ${(err as Error).message}`, { cause: err });
  }
}

/** A run directory -> its latest weights file; a file -> itself. */
export async function resolveWeightsFile(runDirOrWeights: string): Promise<string> {
  let stat;
  try {
    stat = await fs.stat(runDirOrWeights);
  } catch {
    throw new LaxrayError('CHECKPOINT_ERROR', `${runDirOrWeights} does not exist: pass a run directory or a .safetensors weights file`);
  }
  if (!stat.isDirectory()) return runDirOrWeights;
  const pointer = await readLatestPointer(runDirOrWeights);
  return path.join(checkpointsDir(runDirOrWeights), pointer.weights);
}
