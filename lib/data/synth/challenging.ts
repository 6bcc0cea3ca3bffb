// The "challenging subset" (paper §V.F, Table VIII: images "with the overlap
// between multiple objects, or the overlap between objects and similar
// backgrounds"): an image qualifies when at least one labelled object is
// covered by other labelled objects over ≥ minOverlap of its mask, or looks
// like its surroundings with background_similarity ≥ minSimilarity.

export interface ChallengingOptions {
  /** Default 0.35: over a third of an object's mask under other labelled objects. */
  minOverlap?: number;
  /** Default 0.8: object vs surroundings contrast ≤ 20%. */
  minSimilarity?: number;
}

export interface ScoredAnnotation {
  image_id: number;
  overlap?: number;
  background_similarity?: number;
}

// With these defaults about 30% of the default recipe's images qualify (the
// paper's subset: 300 of the ~960 test images).
export const DEFAULT_CHALLENGING = { minOverlap: 0.35, minSimilarity: 0.8 } as const;

export function isChallenging(a: { overlap?: number; background_similarity?: number }, options: ChallengingOptions = {}): boolean {
  const minOverlap = options.minOverlap ?? DEFAULT_CHALLENGING.minOverlap;
  const minSimilarity = options.minSimilarity ?? DEFAULT_CHALLENGING.minSimilarity;
  return (a.overlap ?? 0) >= minOverlap || (a.background_similarity ?? 0) >= minSimilarity;
}

/**
 * Ids (ascending) of the images with at least one challenging annotation,
 * optionally restricted to `imageIds` (e.g. the test split).
 */
export function selectChallenging(dataset: { images: readonly { id: number }[]; annotations: readonly ScoredAnnotation[] }, options: ChallengingOptions = {}): number[] {
  const known = new Set(dataset.images.map((im) => im.id));
  const hit = new Set<number>();
  for (const a of dataset.annotations) if (known.has(a.image_id) && isChallenging(a, options)) hit.add(a.image_id);
  return [...hit].sort((x, y) => x - y);
}
