// Small helpers for hand-written SVG: escaping, number formatting and text
// width estimates (librsvg lays text out, but labels need a box before that).

/** The font used everywhere; DejaVu Sans is what librsvg finds on most Linux machines. */
export const FONT_FAMILY = "'DejaVu Sans', Verdana, Arial, Helvetica, sans-serif";

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A coordinate with at most 2 decimals (keeps the SVG small and exact enough). */
export function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

// Advance widths of DejaVu Sans (units of 1/2048 em) for printable ASCII, from ' ' (32) to '~' (126).
// prettier-ignore
const DEJAVU_SANS_WIDTHS = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690,
  1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087,
  2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
  1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024,
  1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253,
  1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];

/** Width of `text` at `fontSize` px in DejaVu Sans (other characters count as 0.65 em). */
export function textWidth(text: string, fontSize: number): number {
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    units += code >= 32 && code <= 126 ? DEJAVU_SANS_WIDTHS[code - 32]! : 1331;
  }
  return (units / 2048) * fontSize;
}
