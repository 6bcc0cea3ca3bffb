// A torch.save file's state dict, read whole: open the container, unpickle,
// find the state dict (state_dict.ts), copy its tensors out. Runs on a worker
// thread (off_thread.ts); callable directly where blocking does not matter.
import { openTorchCheckpoint, type TorchContainer, type TorchReadLimits } from './reader.js';
import { findStateDict } from './state_dict.js';
import type { RawTensor } from './tensor.js';

export interface PyTorchStateDict {
  tensors: Map<string, RawTensor>;
  container: TorchContainer;
  /** How the state dict was found and cleaned, for reports. */
  notes: string[];
}

export async function loadTorchStateDict(file: string, container: TorchContainer, limits: TorchReadLimits): Promise<PyTorchStateDict> {
  const checkpoint = await openTorchCheckpoint(file, container, limits);
  try {
    const found = findStateDict(checkpoint.root, `PyTorch checkpoint ${file}`);
    const notes: string[] = [];
    if (found.path) notes.push(`state dict taken from checkpoint${found.path}`);
    if (found.strippedPrefix) notes.push(`removed the '${found.strippedPrefix}' prefix (DataParallel)`);
    if (found.skipped.length > 0) notes.push(`left out ${found.skipped.length} non-tensor entries: ${found.skipped.slice(0, 5).join(', ')}${found.skipped.length > 5 ? ', ...' : ''}`);
    return { tensors: await checkpoint.readTensors(found.tensors), container: checkpoint.container, notes };
  } finally {
    await checkpoint.close();
  }
}
