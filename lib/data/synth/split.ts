// train / val / test assignment: a seeded permutation of the image indices cut
// at the recipe's fractions (paper: 8:1:1), so split sizes are exact and the
// same seed gives the same split.
import { mix32, Rng } from '../random.js';

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** Split of each of `count` images (index order). */
export function assignSplits(count: number, seed: number, fractions: readonly [number, number, number]): SplitName[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const rng = new Rng(mix32(seed ^ 0x51d7a11));
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  const nTrain = Math.round(count * fractions[0]);
  const nVal = Math.min(count - nTrain, Math.round(count * fractions[1]));
  const out = new Array<SplitName>(count);
  order.forEach((idx, rank) => {
    out[idx] = rank < nTrain ? 'train' : rank < nTrain + nVal ? 'val' : 'test';
  });
  return out;
}
