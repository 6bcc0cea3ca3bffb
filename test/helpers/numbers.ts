// Numbers for tests: boxes as flat arrays, comparison within a tolerance, and
// seeded generators that give the same sequence on every machine. Not a test file.
import type { ExecutionContext } from 'ava';

/** Rows of [x1, y1, x2, y2] as one flat Float32Array. */
export function boxes(...rows: number[][]): Float32Array {
  return new Float32Array(rows.flat());
}

/** Asserts that `actual` has `expected`'s length and each value lies within `eps` of the expected one. */
export function allClose(t: ExecutionContext, actual: ArrayLike<number>, expected: readonly number[], eps: number): void {
  t.is(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) t.true(Math.abs(actual[i]! - expected[i]!) <= eps, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

/** Uniform numbers in [0, 1) from the Numerical Recipes LCG: x ← 1664525·x + 1013904223 (mod 2³²). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
