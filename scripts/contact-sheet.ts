// Renders docs/synth-contact-sheet.png: 12 generated samples (default recipe)
// in pseudo-colour with their boxes, and the eq.-1 images of the first four.
//   node --import tsx scripts/contact-sheet.ts [out.png] [seed]
import { writeContactSheet } from '../lib/data/synth/contact_sheet.js';
import { resolveRecipe } from '../lib/data/synth/recipe.js';

const out = process.argv[2] ?? 'docs/synth-contact-sheet.png';
const seed = Number(process.argv[3] ?? 7);
await writeContactSheet(out, { seed, recipe: resolveRecipe() });
console.log(`wrote ${out}`);
