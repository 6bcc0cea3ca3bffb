// Presets: the paper's three detectors as small overrides of the defaults
// (schema.ts). A config file picks one with `"preset": "atss-lacls"` and may
// override any field on top of it.
import type { LaxrayConfigInput, PresetName } from './schema.js';

export const presets: Readonly<Record<PresetName, LaxrayConfigInput>> = {
  /** Vanilla ATSS: delta regression with centerness, no label-aware mechanism (the baseline of Tables III-VIII). */
  atss: { model: { head: { regression: 'delta', la: 'none' } } },
  /** ATSS + LAcls on the distribution head: the paper's best model (and the default). */
  'atss-lacls': { model: { head: { regression: 'distribution', la: 'cls' } } },
  /** ATSS + LAreg: label-aware re-weighting from the regression bins. */
  'atss-lareg': { model: { head: { regression: 'distribution', la: 'reg' } } },
};
