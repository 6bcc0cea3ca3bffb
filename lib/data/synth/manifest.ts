// What a synthetic set's folder says about itself, read back by others:
//   synth.json        the manifest, written last (so its presence means the set
//                     is complete): how the set was made (seed, count, recipe)
//                     and what came out (statistics); reused sets (the demo's,
//                     the study's benchmark) are recognised by it;
//   challenging.json  the challenging subset's ids and the thresholds that chose
//                     them, which evaluation applies to the set again.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readJsonFileSync, type JsonFileKind } from '../../json_file.js';
import type { SynthStats } from './generate.js';
import type { ChallengingOptions } from './challenging.js';
import type { SynthRecipe } from './recipe.js';

export const SYNTH_MANIFEST = 'synth.json';
export const CHALLENGING_FILE = 'challenging.json';

export interface SynthManifest {
  generator: 'laxray synth';
  version: 1;
  seed: number;
  count: number;
  raw: boolean;
  recipe: SynthRecipe;
  stats: SynthStats;
}

/** The parsed `file`; undefined when there is none. */
function readIfThere(file: string, kind: JsonFileKind): unknown {
  return existsSync(file) ? readJsonFileSync(file, kind) : undefined;
}

/**
 * The manifest of the synthetic set in `dir`, as read (its fields unchecked);
 * null when there is none (no set, or its generation did not finish). A
 * damaged one is INVALID_DATASET naming `file:line:column`.
 */
export function readSynthManifest(dir: string): Partial<SynthManifest> | null {
  const manifest = readIfThere(path.join(dir, SYNTH_MANIFEST), {
    what: 'synthetic set manifest',
    code: 'INVALID_DATASET',
    hint: 'it was not written by laxray synth or is damaged; delete the folder to generate the set again',
  });
  if (manifest === undefined) return null;
  return manifest !== null && typeof manifest === 'object' ? (manifest as Partial<SynthManifest>) : {};
}

/**
 * The challenging-subset thresholds recorded in `dir`/challenging.json; null
 * when there is no such file or it records none. A damaged one is
 * INVALID_DATASET naming `file:line:column`.
 */
export function readChallengingThresholds(dir: string): ChallengingOptions | null {
  const subset = readIfThere(path.join(dir, CHALLENGING_FILE), {
    what: 'challenging-subset',
    code: 'INVALID_DATASET',
    hint: 'laxray synth writes it next to the dataset; fix it, or delete it to use the default thresholds',
  }) as { thresholds?: unknown } | null | undefined;
  const thresholds = subset?.thresholds;
  return thresholds !== null && typeof thresholds === 'object' ? (thresholds as ChallengingOptions) : null;
}
