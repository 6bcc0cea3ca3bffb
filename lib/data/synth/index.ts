// The synthetic dual-energy baggage generator: public surface.
//
//   import { synth } from 'laxray'; await synth.generateDataset({ ... });
//   const r = await generateDataset({ outDir: 'runs/synth', count: 500, seed: 1,
//     recipe: { width: 640, height: 480, overlapRate: 0.5 }, raw: false, workers: 2,
//     onProgress: (done, total) => ... });
//   r.files.train / val / test   COCO JSON (file_name relative to outDir)
//   r.files.challenging          {image_ids: test split's challenging images, ...}
//   r.stats                      objects, per-class counts, overlap, split sizes
//
// In memory: generateSample(seed, index, resolveRecipe({...})) → eq.-1 RGB,
// 16-bit pair, annotations (bbox, overlap, backgroundSimilarity), scene.
// Pipeline: random (Rng) → scene (layout: bag, clutter, objects, overlap control) →
// shapes (projected thickness) → render (Beer–Lambert at two energies, NIST
// μ/ρ from materials, detector blur and noise) → dual_energy eq. 1 →
// annotate (tight boxes from masks) → generate (files, COCO, splits, workers).
export { generateDataset, generateSample, sampleScene, buildCoco, synthCategories, writeSampleFiles, imageFileName, rawFileNames } from './generate.js';
export type { GenerateDatasetOptions, GenerateDatasetResult, SynthSample, SynthStats, SynthCoco, SynthCocoImage, SynthCocoAnnotation, SampleRecord } from './generate.js';
export { CHALLENGING_FILE, readChallengingThresholds, readSynthManifest, SYNTH_MANIFEST, type SynthManifest } from './manifest.js';
export { DEFAULT_RECIPE, resolveRecipe, CLCXRAY_CLASS_COUNTS, CLCXRAY_OBJECTS_PER_IMAGE, type SynthRecipe } from './recipe.js';
export { CATEGORIES as SYNTH_CATEGORIES, type CategoryName } from './objects.js';
export { selectChallenging, isChallenging, DEFAULT_CHALLENGING, type ChallengingOptions } from './challenging.js';
export { assignSplits, type SplitName } from './split.js';
export { pseudoColour } from './display.js';
export { renderScene, RenderScratch, type RenderedScan, type RenderOptions } from './render.js';
export { layoutScene, type Scene, type LabelledObject } from './scene.js';
export { annotate, overlapRatios, backgroundSimilarity, maskExtent, type SynthAnnotation } from './annotate.js';
export { MATERIALS, linearAttenuation, massAttenuation, type MaterialName } from './materials.js';
export { Rng, imageSeed } from '../random.js';
export { writeContactSheet, type ContactSheetOptions } from './contact_sheet.js';
