// The detectors the study compares: the paper's two LA heads, vanilla ATSS,
// and the controls the paper does not report (the distribution head with its
// quality branch but no LA, and the same with the regression tower applied
// twice, which is what the LA heads also change). Each is a preset plus a small
// override, so a run's config.json says exactly what was trained.
import { LaxrayError } from '../errors.js';
import type { LaxrayConfigInput, PresetName } from '../config/index.js';

export interface StudyMethod {
  name: string;
  /** One line for the report. */
  description: string;
  preset: PresetName;
  /** Applied on top of the preset and the profile's settings. */
  overrides: LaxrayConfigInput;
  /** The LA kind: such models are also evaluated with LA switched off at test time. */
  la: 'cls' | 'reg' | null;
}

export const STUDY_METHODS: readonly StudyMethod[] = [
  { name: 'atss', description: 'ATSS: delta regression + centerness, no LA (the paper\'s baseline)', preset: 'atss', overrides: {}, la: null },
  { name: 'atss-dist', description: 'distribution head + quality branch, no LA (control)', preset: 'atss-dist', overrides: {}, la: null },
  {
    name: 'atss-dist-reg2',
    description: 'atss-dist with the regression tower applied twice, as the LA heads do (control)',
    preset: 'atss-dist-reg2',
    overrides: {},
    la: null,
  },
  { name: 'atss-lacls', description: 'ATSS + LAcls, w = sigmoid(g) (the paper)', preset: 'atss-lacls', overrides: {}, la: 'cls' },
  { name: 'atss-lareg', description: 'ATSS + LAreg, w = sigmoid(g) (the paper)', preset: 'atss-lareg', overrides: {}, la: 'reg' },
  {
    name: 'atss-lacls-scaled',
    description: 'ATSS + LAcls with w = sigmoid(g / tau), tau = per-image, per-level std of g (variant, not in the paper)',
    preset: 'atss-lacls',
    overrides: { model: { head: { laWeight: 'scaled' } } },
    la: 'cls',
  },
  {
    name: 'atss-lareg-scaled',
    description: 'ATSS + LAreg with w = sigmoid(g / tau) (variant, not in the paper)',
    preset: 'atss-lareg',
    overrides: { model: { head: { laWeight: 'scaled' } } },
    la: 'reg',
  },
];

/** Every method in the default study (atss-lareg-scaled is available but not run by default). */
export const DEFAULT_METHODS: readonly string[] = ['atss', 'atss-dist', 'atss-dist-reg2', 'atss-lacls', 'atss-lareg', 'atss-lacls-scaled'];

/** The controls every other method is compared with, seed by seed. */
export const REFERENCE_METHODS: readonly string[] = ['atss-dist', 'atss-dist-reg2'];

/** The methods with these names, in the given order; unknown or repeated names are an error listing the known ones. */
export function studyMethods(names: readonly string[]): StudyMethod[] {
  if (names.length === 0) throw new LaxrayError('INVALID_ARGUMENT', `no methods given; known methods: ${STUDY_METHODS.map((m) => m.name).join(', ')}`);
  const seen = new Set<string>();
  return names.map((name) => {
    const method = STUDY_METHODS.find((m) => m.name === name);
    if (method === undefined) throw new LaxrayError('INVALID_ARGUMENT', `unknown study method '${name}'; known methods: ${STUDY_METHODS.map((m) => m.name).join(', ')}`);
    if (seen.has(name)) throw new LaxrayError('INVALID_ARGUMENT', `study method '${name}' is listed twice`);
    seen.add(name);
    return method;
  });
}

/** The run directory name of a method and seed: `<method>-seed<k>`. */
export function runName(method: string, seed: number): string {
  return `${method}-seed${seed}`;
}
