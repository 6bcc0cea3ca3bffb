// The Label-aware equations on a 1x1-conv predictor, for study and tests:
// the detector runs the same native code (native/label_aware.cc) on its towers.
import { LaxrayError } from './errors.js';
import { native, type TensorData } from './native.js';

export interface LabelAwareClsInput {
  /** Feature x: [N, Cin, H, W]. */
  x: Float32Array;
  shape: readonly [number, number, number, number];
  /** The predictor y = sigmoid(weight · x + bias) at each location: weight [C, Cin], bias [C]. */
  weight: Float32Array;
  bias: Float32Array;
  /** Assigned class per location [N, H, W] (−1 = background); omit for pseudo labels (argmax of y). */
  labels?: Int32Array;
  coefficients?: { a: number; b: number; c: number };
  /** How a gradient g becomes a weight: 'sigmoid' σ(g) (the paper, default) or 'scaled' σ(g / τ), τ = std of g over C×H×W per image. */
  weighting?: LabelAwareWeighting;
}

export type LabelAwareWeighting = 'sigmoid' | 'scaled';

/** Eq. 5: x_new = a·x + b·w1·x − c·w2·x with w1 = σ(∇Σ y·ŷ), w2 = σ(∇Σ y·y*). */
export async function labelAwareCls(input: LabelAwareClsInput): Promise<{ xNew: TensorData; w1: TensorData; w2: TensorData }> {
  const [n, cin, h, w] = input.shape;
  const classes = input.bias.length;
  if (input.weight.length !== classes * cin) {
    throw new LaxrayError('INVALID_ARGUMENT', `labelAwareCls: weight has ${input.weight.length} values, expected C × Cin = ${classes} × ${cin}`);
  }
  const { a, b, c } = input.coefficients ?? { a: 1, b: 1, c: 1 };
  const addon = native as unknown as Record<string, (...args: unknown[]) => Promise<Record<string, TensorData>>>;
  const out = await addon.labelAwareCls!(
    input.x, [n, cin, h, w], input.weight, [classes, cin], input.bias,
    input.labels ?? null, [n, h, w], a, b, c, input.weighting ?? 'sigmoid',
  );
  return { xNew: out.xNew!, w1: out.w1!, w2: out.w2! };
}

export interface LabelAwareRegInput {
  x: Float32Array;
  shape: readonly [number, number, number, number];
  /** weight [4·(R+1), Cin], bias [4·(R+1)]: bin logits per side (left, top, right, bottom). */
  weight: Float32Array;
  bias: Float32Array;
  /**
   * Target bin per side [N, 4, H, W], −1 for anchors that are not positive; omit for pseudo labels.
   * As the authors' code: non-positive anchors take bin 0, and with no positive at all every anchor takes its pseudo label.
   */
  bins?: Int32Array;
  weighting?: LabelAwareWeighting;
}

/** Eq. 6: x_new = 0.5·x + σ(∇Σ y·ŷ)·x. */
export async function labelAwareReg(input: LabelAwareRegInput): Promise<{ xNew: TensorData; w: TensorData }> {
  const [n, cin, h, w] = input.shape;
  const outputs = input.bias.length;
  if (outputs % 4 !== 0 || input.weight.length !== outputs * cin) {
    throw new LaxrayError('INVALID_ARGUMENT', `labelAwareReg: weight must be [4·(R+1), Cin] and bias [4·(R+1)]`);
  }
  const addon = native as unknown as Record<string, (...args: unknown[]) => Promise<Record<string, TensorData>>>;
  const out = await addon.labelAwareReg!(input.x, [n, cin, h, w], input.weight, [outputs, cin], input.bias, input.bins ?? null, [n, 4, h, w], input.weighting ?? 'sigmoid');
  return { xNew: out.xNew!, w: out.w! };
}
