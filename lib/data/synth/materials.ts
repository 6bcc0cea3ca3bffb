// Materials of the synthetic scanner: linear attenuation μ = (μ/ρ)·ρ at the two
// effective energies of a dual-energy baggage scanner.
//
// Mass attenuation coefficients μ/ρ (cm²/g, total with coherent scattering) are
// copied from J. H. Hubbell and S. M. Seltzer, "Tables of X-Ray Mass Attenuation
// Coefficients and Mass Energy-Absorption Coefficients from 1 keV to 20 MeV",
// NIST Standard Reference Database 126 (NISTIR 5632, 2004):
//   Table 3 (elements): H (Z=1), C (6), O (8), Al (13), Si (14), Fe (26), Cu (29);
//   Table 4 (compounds): Water, Liquid; Polyethylene; Polyethylene Terephthalate
//   ("Mylar"); Polyvinyl Chloride; Glass, Borosilicate ("Pyrex").
// Only the rows 40, 50, 60, 80, 100 and 150 keV are kept; other energies are
// interpolated log–log between them (as the NIST pages recommend away from edges).
// Materials not in the tables (natural rubber C5H8, cellulose C6H10O5 for cotton,
// paper and wood) use the mixture rule μ/ρ = Σ w_i (μ/ρ)_i over H, C, O.
//
// Densities (g/cm³) are the usual handbook values of the everyday material.

/** Table energies in keV. */
export const TABLE_KEV = [40, 50, 60, 80, 100, 150] as const;

type Row = readonly [number, number, number, number, number, number];

/** μ/ρ (cm²/g) at TABLE_KEV. */
const NIST: Record<string, Row> = {
  H: [3.458e-1, 3.355e-1, 3.26e-1, 3.091e-1, 2.944e-1, 2.651e-1],
  C: [2.076e-1, 1.871e-1, 1.753e-1, 1.61e-1, 1.514e-1, 1.347e-1],
  O: [2.585e-1, 2.132e-1, 1.907e-1, 1.678e-1, 1.551e-1, 1.361e-1],
  Al: [5.685e-1, 3.681e-1, 2.778e-1, 2.018e-1, 1.704e-1, 1.378e-1],
  Si: [7.012e-1, 4.385e-1, 3.207e-1, 2.228e-1, 1.835e-1, 1.448e-1],
  Fe: [3.629, 1.958, 1.205, 5.952e-1, 3.717e-1, 1.964e-1],
  Cu: [4.862, 2.613, 1.593, 7.63e-1, 4.584e-1, 2.217e-1],
  water: [2.683e-1, 2.269e-1, 2.059e-1, 1.837e-1, 1.707e-1, 1.505e-1],
  polyethylene: [2.275e-1, 2.084e-1, 1.97e-1, 1.823e-1, 1.719e-1, 1.534e-1],
  pet: [2.304e-1, 2.02e-1, 1.868e-1, 1.695e-1, 1.586e-1, 1.406e-1],
  pvc: [7.3e-1, 4.559e-1, 3.325e-1, 2.298e-1, 1.887e-1, 1.486e-1],
  pyrex: [4.341e-1, 3.022e-1, 2.417e-1, 1.89e-1, 1.657e-1, 1.389e-1],
};

function mixture(weights: Record<string, number>): Row {
  const out = [0, 0, 0, 0, 0, 0];
  for (const [el, w] of Object.entries(weights)) {
    const row = NIST[el] as Row;
    for (let i = 0; i < 6; i++) out[i] = (out[i] as number) + w * (row[i] as number);
  }
  return out as unknown as Row;
}

// Mass fractions from the formulae: C5H8 (H 0.1184, C 0.8816); C6H10O5 (H 0.0622, C 0.4445, O 0.4933).
const RUBBER = mixture({ H: 0.1184, C: 0.8816 });
const CELLULOSE = mixture({ H: 0.0622, C: 0.4445, O: 0.4933 });

export interface Material {
  readonly name: string;
  /** g/cm³ */
  readonly density: number;
  /** μ/ρ in cm²/g at TABLE_KEV */
  readonly massAttenuation: Row;
  /** Coarse class used by the pseudo-colour display: organic, inorganic (light metal / glass), metal. */
  readonly kind: 'organic' | 'inorganic' | 'metal';
}

export const MATERIALS = {
  polyethylene: { name: 'polyethylene', density: 0.94, massAttenuation: NIST.polyethylene as Row, kind: 'organic' },
  pet: { name: 'PET', density: 1.38, massAttenuation: NIST.pet as Row, kind: 'organic' },
  pvc: { name: 'PVC', density: 1.38, massAttenuation: NIST.pvc as Row, kind: 'organic' },
  water: { name: 'water-like liquid', density: 1.0, massAttenuation: NIST.water as Row, kind: 'organic' },
  rubber: { name: 'natural rubber', density: 0.92, massAttenuation: RUBBER, kind: 'organic' },
  cotton: { name: 'cotton (cellulose)', density: 1.5, massAttenuation: CELLULOSE, kind: 'organic' },
  paper: { name: 'paper / cardboard', density: 0.75, massAttenuation: CELLULOSE, kind: 'organic' },
  wood: { name: 'wood', density: 0.65, massAttenuation: CELLULOSE, kind: 'organic' },
  glass: { name: 'borosilicate glass', density: 2.23, massAttenuation: NIST.pyrex as Row, kind: 'inorganic' },
  silicon: { name: 'silicon (PCB / chips)', density: 2.33, massAttenuation: NIST.Si as Row, kind: 'inorganic' },
  aluminium: { name: 'aluminium', density: 2.699, massAttenuation: NIST.Al as Row, kind: 'inorganic' },
  iron: { name: 'steel (iron)', density: 7.874, massAttenuation: NIST.Fe as Row, kind: 'metal' },
  copper: { name: 'copper', density: 8.96, massAttenuation: NIST.Cu as Row, kind: 'metal' },
} as const satisfies Record<string, Material>;

export type MaterialName = keyof typeof MATERIALS;
export const MATERIAL_NAMES = Object.keys(MATERIALS) as MaterialName[];

/** μ/ρ (cm²/g) of `material` at `keV`, log–log interpolated in the NIST rows (40–150 keV). */
export function massAttenuation(material: MaterialName, keV: number): number {
  const row = MATERIALS[material].massAttenuation;
  if (!(keV >= TABLE_KEV[0]! && keV <= TABLE_KEV[TABLE_KEV.length - 1]!)) {
    throw new RangeError(`effective energy ${keV} keV is outside the tabulated 40–150 keV`);
  }
  let i = 0;
  while (i < TABLE_KEV.length - 2 && keV > (TABLE_KEV[i + 1] as number)) i++;
  const e0 = TABLE_KEV[i] as number;
  const e1 = TABLE_KEV[i + 1] as number;
  const m0 = row[i] as number;
  const m1 = row[i + 1] as number;
  const f = Math.log(keV / e0) / Math.log(e1 / e0);
  return Math.exp(Math.log(m0) + f * (Math.log(m1) - Math.log(m0)));
}

/** Linear attenuation coefficient μ in 1/mm (μ/ρ · ρ / 10). */
export function linearAttenuation(material: MaterialName, keV: number): number {
  return (massAttenuation(material, keV) * MATERIALS[material].density) / 10;
}

/** μ (1/mm) of every material at one energy, indexed like MATERIAL_NAMES. */
export function attenuationTable(keV: number): Float64Array {
  return Float64Array.from(MATERIAL_NAMES, (m) => linearAttenuation(m, keV));
}

export function materialIndex(name: MaterialName): number {
  return MATERIAL_NAMES.indexOf(name);
}
