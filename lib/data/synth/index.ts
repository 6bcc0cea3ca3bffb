// The synthetic dual-energy baggage generator: public surface.
export { generateDataset, generateSample, sampleScene, buildCoco, synthCategories, writeSampleFiles, imageFileName, rawFileNames } from './generate.js';
export type { GenerateDatasetOptions, GenerateDatasetResult, SynthSample, SynthStats, SynthCoco, SynthCocoImage, SynthCocoAnnotation, SampleRecord } from './generate.js';
export { DEFAULT_RECIPE, resolveRecipe, CLCXRAY_CLASS_COUNTS, CLCXRAY_OBJECTS_PER_IMAGE, type SynthRecipe } from './recipe.js';
export { CATEGORIES as SYNTH_CATEGORIES, type CategoryName } from './objects.js';
export { selectChallenging, isChallenging, DEFAULT_CHALLENGING, type ChallengingOptions } from './challenging.js';
export { assignSplits, type SplitName } from './split.js';
export { pseudoColour } from './display.js';
export { renderScene, RenderScratch, type RenderedScan, type RenderOptions } from './render.js';
export { layoutScene, type Scene, type LabelledObject } from './scene.js';
export { annotate, overlapRatios, backgroundSimilarity, maskExtent, type SynthAnnotation } from './annotate.js';
export { MATERIALS, linearAttenuation, massAttenuation, type MaterialName } from './materials.js';
export { Rng, imageSeed } from './prng.js';
export { writeContactSheet, type ContactSheetOptions } from './contact_sheet.js';
