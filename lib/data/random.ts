// Seeded pseudo-random numbers for the data pipeline. Everything random in a
// training epoch (shuffle order, per-image flips) is drawn here, on the main
// thread, from (seed, epoch) alone, so worker timing can never change results
// and a resumed run draws exactly what an uninterrupted one would.

/** A uniform generator in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a 32-bit state generator (Tommy Ettinger). Small, fast, and good
 * enough for shuffles and coin flips; not for cryptography.
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Hashes several integers into one 32-bit seed (the murmur3 finaliser applied
 * after each part), so nearby inputs such as (seed, epoch) and (seed, epoch + 1)
 * give unrelated streams.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // Fold values beyond 32 bits (large seeds) in as two halves.
    const lo = part >>> 0;
    const hi = Math.floor(part / 4294967296) >>> 0;
    for (const word of [lo, hi]) {
      h ^= word;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** Fisher–Yates shuffle in place, driven by `random`. */
export function shuffleInPlace<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}
