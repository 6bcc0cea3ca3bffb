// Fixed colours: one per class label (the 12 CLCXray classes get 12 distinct
// ones, stable run to run) and a categorical palette for plot series.

/** By contiguous class label: blade, dagger, knife, scissors, swiss army knife, cans, carton drinks, glass bottle, plastic bottle, vacuum cup, spray cans, tin. */
export const CLASS_COLORS: readonly string[] = [
  '#e6194b', // red
  '#f58231', // orange
  '#ffe119', // yellow
  '#911eb4', // purple
  '#f032e6', // magenta
  '#3cb44b', // green
  '#42d4f4', // cyan
  '#4363d8', // blue
  '#bfef45', // lime
  '#469990', // teal
  '#9a6324', // brown
  '#fabed4', // pink
];

/** Series colours for plots (Tableau 10). */
export const SERIES_COLORS: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** The colour of class `label`; labels past the palette get evenly spread hues (golden angle). */
export function classColor(label: number): string {
  if (Number.isInteger(label) && label >= 0 && label < CLASS_COLORS.length) return CLASS_COLORS[label]!;
  const hue = (Math.abs(Math.trunc(label)) * 137.508) % 360;
  return hslToHex(hue, 0.75, 0.5);
}

/** '#rrggbb' -> [r, g, b] in 0..255. */
export function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Black or white, whichever reads better on `background` (WCAG relative luminance). */
export function textColorOn(background: string): '#000000' | '#ffffff' {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = hexToRgb(background);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  // Contrast with black (L + 0.05) / 0.05 vs with white 1.05 / (L + 0.05).
  return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? '#000000' : '#ffffff';
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return `#${[f(0), f(8), f(4)].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
