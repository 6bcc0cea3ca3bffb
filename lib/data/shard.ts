// Data-parallel sharding of an epoch, as PyTorch's DistributedSampler: one
// seeded permutation per epoch for the whole job, padded (by repeating its
// first positions) to a length every process can share equally, cut into
// global batches of batchSize × worldSize consecutive positions; process r
// takes positions r, r + W, r + 2W, … of each global batch.
//
// So the union of the processes' batch b is exactly the single-process batch
// b of batchSize × worldSize images, and with worldSize 1 this is the plain
// batching of the permutation. A resumed run starts at `startImage` (global
// positions already consumed in the epoch, whatever world size consumed them);
// the padding is then computed for what remains, so every process again gets
// the same number of images in every step.
import { LaxrayError } from '../errors.js';

export interface Shard {
  rank: number;
  worldSize: number;
}

/** One global batch: its positions [start, end) in the epoch, and this process's share. */
export interface ShardedBatch {
  start: number;
  end: number;
  /** Permutation positions (0..n−1; padding wraps to the epoch's start) this process loads. */
  positions: number[];
}

export function checkShard(shard: Shard): Shard {
  const { rank, worldSize } = shard;
  if (!(Number.isInteger(worldSize) && worldSize >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `shard.worldSize must be an integer ≥ 1, got ${worldSize}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize)) {
    throw new LaxrayError('INVALID_ARGUMENT', `shard.rank must be an integer in 0..${worldSize - 1} (worldSize ${worldSize}), got ${rank}`);
  }
  return shard;
}

/** Positions of the epoch (padded to a multiple of worldSize after `startImage`). */
export function epochLength(n: number, worldSize: number, startImage = 0): number {
  if (n === 0) return 0;
  return startImage + Math.ceil(Math.max(0, n - startImage) / worldSize) * worldSize;
}

/**
 * The global batches of an epoch of `n` permutation positions from
 * `startImage` on, with this process's positions in each. `dropLast` leaves
 * out a final global batch smaller than batchSize × worldSize.
 */
export function shardBatches(n: number, batchSize: number, shard: Shard, options: { startImage?: number; dropLast?: boolean } = {}): ShardedBatch[] {
  const { rank, worldSize } = checkShard(shard);
  const startImage = options.startImage ?? 0;
  if (!(Number.isInteger(startImage) && startImage >= 0)) throw new LaxrayError('INVALID_ARGUMENT', `startImage must be an integer ≥ 0, got ${startImage}`);
  const total = epochLength(n, worldSize, startImage);
  const global = batchSize * worldSize;
  const out: ShardedBatch[] = [];
  for (let start = startImage; start < total; start += global) {
    const end = Math.min(start + global, total);
    if (options.dropLast && end - start < global) break;
    const positions: number[] = [];
    for (let p = start + rank; p < end; p += worldSize) positions.push(p % n);
    out.push({ start, end, positions });
  }
  return out;
}
