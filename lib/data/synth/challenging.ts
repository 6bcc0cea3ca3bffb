// The "challenging subset" (paper §V.F, Table VIII: images "with the overlap
// between multiple objects, or the overlap between objects and similar
// backgrounds"): an image qualifies when at least one labelled object is
// covered by other labelled objects over ≥ minOverlap of its mask, or looks
// like its surroundings with background_similarity ≥ minSimilarity.

export interface ChallengingOptions {
  /** Default 0.3: 30% of an object's mask under other labelled objects. */
  minOverlap?: number;
  /** Default 0.9: object vs surroundings contrast ≤ 10%. */
  minSimilarity?: number;
}

export interface ScoredAnnotation {
  image_id: number;
  overlap?: number;
  background_similarity?: number;
}

export const DEFAULT_CHALLENGING = { minOverlap: 0.3, minSimilarity: 0.9 } as const;

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
