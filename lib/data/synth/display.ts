// Pseudo-colour display of a dual-energy scan, as baggage-screening consoles
// show it: brightness from the high-energy transmission (dense = dark), hue
// from the material's low/high attenuation ratio R = A_low / A_high
// (organic R ≲ 1.35 orange, inorganic / light metal 1.7–2.2 green, steel and
// copper R ≳ 3.2 blue; blends between). For people only: datasets store the eq.-1 image.
export interface DisplayOptions {
  /** 16-bit reading of air. */
  airLevel: number;
}

const ORANGE = [1.0, 0.6, 0.18];
const GREEN = [0.3, 0.8, 0.28];
const BLUE = [0.22, 0.42, 1.0];

/** (high, low) 16-bit readings → interleaved RGB bytes. */
export function pseudoColour(high: Uint16Array, low: Uint16Array, options: DisplayOptions): Uint8Array {
  const n = high.length;
  const out = new Uint8Array(3 * n);
  const air = options.airLevel;
  for (let i = 0; i < n; i++) {
    const th = Math.min(1, Math.max(1e-5, (high[i] as number) / air));
    const tl = Math.min(1, Math.max(1e-5, (low[i] as number) / air));
    const ah = -Math.log(th);
    const al = -Math.log(tl);
    const r = ah > 0.02 ? al / ah : 1;
    let hue: number[];
    if (r <= 1.35) hue = ORANGE;
    else if (r < 1.7) {
      const f = (r - 1.35) / 0.35;
      hue = [0, 1, 2].map((c) => ORANGE[c]! + f * (GREEN[c]! - ORANGE[c]!));
    } else if (r < 2.2) {
      hue = GREEN;
    } else if (r < 3.2) {
      const f = (r - 2.2) / 1.0;
      hue = [0, 1, 2].map((c) => GREEN[c]! + f * (BLUE[c]! - GREEN[c]!));
    } else hue = BLUE;
    const light = Math.pow(th, 0.9);
    const sat = Math.min(1, (1 - light) * 2.2);
    for (let c = 0; c < 3; c++) {
      const v = light * (1 - sat * (1 - hue[c]!));
      out[3 * i + c] = Math.max(0, Math.min(255, Math.round(255 * v)));
    }
  }
  return out;
}
