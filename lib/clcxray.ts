// The CLCXray dataset's 12 categories (paper §III), ids 1..12 in this order:
// 5 cutters, then 7 liquid containers. The default classes of a laxray model
// and of the synthetic generator.
export const CLCXRAY_CLASSES = [
  'blade',
  'dagger',
  'knife',
  'scissors',
  'swiss army knife',
  'cans',
  'carton drinks',
  'glass bottle',
  'plastic bottle',
  'vacuum cup',
  'spray cans',
  'tin',
] as const;
