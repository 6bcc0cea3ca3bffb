// LA's equations checked against a hand computation: with a 1x1-conv
// predictor y_c = σ(Σ_k W_ck·x_k + b_c), the gradient of Σ y·ŷ at a location
// is y_ĉ(1 − y_ĉ)·W_ĉk, so w1, w2 and x_new have closed forms.
import test from 'ava';
import { labelAwareCls, labelAwareReg } from '../lib/ops.js';
import { lcg } from './helpers/numbers.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));


const [N, CIN, H, W, C] = [2, 5, 3, 4, 3];
const uniform = lcg(11);
const rand = () => uniform() - 0.5;
const x = Float32Array.from({ length: N * CIN * H * W }, () => rand() * 4);
const weight = Float32Array.from({ length: C * CIN }, () => rand() * 2);
const bias = Float32Array.from({ length: C }, () => rand());
const at = (n: number, k: number, h: number, w: number) => ((n * CIN + k) * H + h) * W + w;

/** y at one location, computed in float64. */
function probabilities(n: number, h: number, w: number, classes = C, wt = weight, b = bias): number[] {
  return Array.from({ length: classes }, (_, c) => {
    let z = b[c]!;
    for (let k = 0; k < CIN; k++) z += wt[c * CIN + k]! * x[at(n, k, h, w)]!;
    return sigmoid(z);
  });
}

const argmax = (v: number[], skip = -1) => v.reduce((best, value, i) => (i !== skip && (best < 0 || value > v[best]!) ? i : best), -1);

function expectedCls(labels: Int32Array | undefined, a: number, b: number, c: number) {
  const g1 = new Float64Array(x.length);
  const g2 = new Float64Array(x.length);
  const w1 = new Float64Array(x.length);
  const w2 = new Float64Array(x.length);
  const xNew = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const y = probabilities(n, h, w);
        const label = labels ? labels[(n * H + h) * W + w]! : argmax(y);
        const misleading = argmax(y, label); // for background (−1) nothing is excluded
        for (let k = 0; k < CIN; k++) {
          const i = at(n, k, h, w);
          g1[i] = label >= 0 ? y[label]! * (1 - y[label]!) * weight[label * CIN + k]! : 0;
          g2[i] = y[misleading]! * (1 - y[misleading]!) * weight[misleading * CIN + k]!;
          w1[i] = sigmoid(g1[i]!);
          w2[i] = sigmoid(g2[i]!);
          xNew[i] = a * x[i]! + b * w1[i]! * x[i]! - c * w2[i]! * x[i]!;
        }
      }
  return { g1, g2, w1, w2, xNew };
}

function close(t: import('ava').ExecutionContext, actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  t.is(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  t.true(worst < 1e-5, `${what}: worst difference ${worst}`);
}

test('LAcls with assigned labels (incl. background) matches eq. 5 computed by hand', async (t) => {
  const labels = Int32Array.from({ length: N * H * W }, (_, i) => (i % 4) - 1); // −1, 0, 1, 2, ...
  const out = await labelAwareCls({ x, shape: [N, CIN, H, W], weight, bias, labels, coefficients: { a: 1, b: 1, c: 1 } });
  const expected = expectedCls(labels, 1, 1, 1);
  close(t, out.w1.data, expected.w1, 'w1');
  close(t, out.w2.data, expected.w2, 'w2');
  close(t, out.xNew.data, expected.xNew, 'x_new');
  // Background locations: ŷ = 0, so w1 = σ(0) = 0.5 exactly.
  t.is(out.w1.data[at(0, 2, 0, 0)], 0.5);
});

test('LAcls at test time uses the argmax as pseudo label', async (t) => {
  const out = await labelAwareCls({ x, shape: [N, CIN, H, W], weight, bias, coefficients: { a: 0.5, b: 2, c: 1 } });
  const expected = expectedCls(undefined, 0.5, 2, 1);
  close(t, out.w1.data, expected.w1, 'w1');
  close(t, out.w2.data, expected.w2, 'w2');
  close(t, out.xNew.data, expected.xNew, 'x_new');
});

test('with w = 0.5 everywhere and a + b/2 − c/2 = 1 the features are unchanged', async (t) => {
  // A zero predictor weight makes every gradient 0, so w1 = w2 = σ(0) = 0.5.
  const zero = new Float32Array(C * CIN);
  for (const [a, b, c] of [[1, 1, 1], [0.5, 2, 1], [1.5, 0, 1], [0, 3, 1]] as const) {
    const out = await labelAwareCls({ x, shape: [N, CIN, H, W], weight: zero, bias, coefficients: { a, b, c } });
    t.true(Array.from(out.w1.data).every((v) => v === 0.5));
    close(t, out.xNew.data, x, `a=${a} b=${b} c=${c}`);
  }
});

const R1 = 3; // LAreg test predictor: bins per side
const regWeight = Float32Array.from({ length: 4 * R1 * CIN }, () => rand());
const regBias = Float32Array.from({ length: 4 * R1 }, () => rand());

/**
 * ∇x Σ(y·ŷ) of the LAreg predictor by hand: Σ over sides of y_j(1 − y_j)·W_jk at the target bin j.
 * The authors' targets: bin 0 where not positive (their bins start as zeros); the argmax when no anchor is positive.
 */
function regGradient(given: Int32Array | undefined): Float64Array {
  const pseudo = given === undefined || given.every((b) => b < 0);
  const g = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const y = probabilities(n, h, w, 4 * R1, regWeight, regBias); // index side·R1 + bin
        for (let k = 0; k < CIN; k++) {
          let sum = 0;
          for (let side = 0; side < 4; side++) {
            const sideY = y.slice(side * R1, side * R1 + R1);
            const bin = pseudo ? argmax(sideY) : Math.max(0, given![((n * 4 + side) * H + h) * W + w]!);
            const j = side * R1 + bin;
            sum += y[j]! * (1 - y[j]!) * regWeight[j * CIN + k]!;
          }
          g[at(n, k, h, w)] = sum;
        }
      }
  return g;
}

test('LAreg matches eq. 6 computed by hand: assigned bins (bin 0 where not positive, as the authors) and pseudo labels', async (t) => {
  const bins = Int32Array.from({ length: N * 4 * H * W }, (_, i) => (i % (R1 + 1)) - 1); // −1, 0 .. R1−1
  const noPositive = new Int32Array(N * 4 * H * W).fill(-1);
  for (const [given, what] of [[bins, 'assigned'], [undefined, 'pseudo'], [noPositive, 'no positive: pseudo']] as const) {
    const out = await labelAwareReg({ x, shape: [N, CIN, H, W], weight: regWeight, bias: regBias, bins: given });
    const expectedW = Float64Array.from(regGradient(given), sigmoid);
    close(t, out.w.data, expectedW, `w (${what})`);
    close(t, out.xNew.data, Float64Array.from(x, (v, i) => 0.5 * v + expectedW[i]! * v), `x_new (${what})`);
  }
});

/** σ(g / τ), τ = population std of g over one image's C×H×W entries (at least 1e-12). */
function scaledWeights(g: Float64Array): Float64Array {
  const out = new Float64Array(g.length);
  const per = CIN * H * W;
  for (let n = 0; n < N; n++) {
    const slice = g.subarray(n * per, (n + 1) * per);
    const mean = slice.reduce((s, v) => s + v, 0) / per;
    const tau = Math.max(Math.sqrt(slice.reduce((s, v) => s + (v - mean) ** 2, 0) / per), 1e-12);
    for (let i = 0; i < per; i++) out[n * per + i] = sigmoid(slice[i]! / tau);
  }
  return out;
}

test("laWeight 'scaled': w = σ(g / τ), τ = the std of the gradient over C×H×W per image, for w1, w2 and LAreg's w", async (t) => {
  const labels = Int32Array.from({ length: N * H * W }, (_, i) => (i % 4) - 1);
  const { g1, g2 } = expectedCls(labels, 1, 1, 1);
  const w1 = scaledWeights(g1);
  const w2 = scaledWeights(g2);
  const out = await labelAwareCls({ x, shape: [N, CIN, H, W], weight, bias, labels, weighting: 'scaled' });
  close(t, out.w1.data, w1, 'w1');
  close(t, out.w2.data, w2, 'w2');
  close(t, out.xNew.data, Float64Array.from(x, (v, i) => v + w1[i]! * v - w2[i]! * v), 'x_new');
  // τ is per image: an image alone gets the weights it gets in the batch.
  const per = CIN * H * W;
  const alone = await labelAwareCls({ x: x.slice(per, 2 * per), shape: [1, CIN, H, W], weight, bias, labels: labels.slice(H * W), weighting: 'scaled' });
  close(t, alone.w1.data, out.w1.data.slice(per), 'w1 of image 1 alone = in the batch');

  const regScaled = await labelAwareReg({ x, shape: [N, CIN, H, W], weight: regWeight, bias: regBias, weighting: 'scaled' });
  close(t, regScaled.w.data, scaledWeights(regGradient(undefined)), 'LAreg w');
});

test("laWeight 'scaled' with a zero gradient gives w = 0.5 (τ is clamped away from 0)", async (t) => {
  const out = await labelAwareCls({ x, shape: [N, CIN, H, W], weight: new Float32Array(C * CIN), bias, weighting: 'scaled' });
  t.true(Array.from(out.w1.data).every((v) => v === 0.5));
  close(t, out.xNew.data, x, 'x unchanged');
});
