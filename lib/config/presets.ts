// Presets: the paper's three detectors and two controls, as small overrides of
// the defaults (schema.ts). A config file picks one with `"preset": "atss-lacls"` and may
// override any field on top of it.
import type { LaxrayConfigInput, PresetName } from './schema.js';

export const presets: Readonly<Record<PresetName, LaxrayConfigInput>> = {
  /** Vanilla ATSS: delta regression with centerness, no label-aware mechanism (the baseline of Tables III-VIII). */
  atss: { model: { head: { regression: 'delta', la: 'none' } } },
  /** The distribution head with its quality branch, without LA: what LAcls adds to, minus LA (a control the paper lacks). */
  'atss-dist': { model: { head: { regression: 'distribution', la: 'none' } } },
  /** atss-dist with the regression tower applied twice, as in the LA heads: the control that isolates the reweighting. */
  'atss-dist-reg2': { model: { head: { regression: 'distribution', la: 'none', laRegTwice: true } } },
  /** ATSS + LAcls on the distribution head: the paper's best model (and the default). */
  'atss-lacls': { model: { head: { regression: 'distribution', la: 'cls' } } },
  /** ATSS + LAreg: label-aware re-weighting from the regression bins. */
  'atss-lareg': { model: { head: { regression: 'distribution', la: 'reg' } } },
};
