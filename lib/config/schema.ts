// The run configuration: one zod schema that is at once the validator, the
// defaults (the paper's set-up, docs/design.md "Defaults") and the docs
// (`.describe` on every field). Presets (presets.ts) are small overrides of it.
//
// The shape is the contract with the native detector: keep the names.
//
// Four fields have no fixed default but a rule, applied by the transform at the
// end (`resolveDerived`), so the parsed config always holds concrete values:
//   model.backbone.norm          'frozen_bn' with pretrained weights, else 'bn'
//   model.backbone.frozenStages  1 (stem + layer1) with pretrained weights, else 0
//   model.head.numClasses        classes.length when classes is given, else 12
//   device                       LAXRAY_DEVICE, else 'cpu'
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { CLCXRAY_CLASSES } from '../clcxray.js';
import type { DeviceName } from '../device.js';

/** The 12 CLCXray categories, in the dataset's order. */
export { CLCXRAY_CLASSES };

import { PRESET_NAMES, type PresetName } from './preset_names.js';
export { PRESET_NAMES, type PresetName };

const DEVICE_PATTERN = /^(cpu|cuda(:\d+)?)$/;

/** Largest network input by default, in pixels per image (4096 × 4096 = 16.7 M; one float32 RGB image of it is 200 MB). */
export const DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096;

const positiveInt = () => z.int().min(1);
const nonNegativeInt = () => z.int().min(0);
const positive = () => z.number().positive();
const probability = () => z.number().min(0).max(1);
const rgb = (what: string) => z.tuple([z.number(), z.number(), z.number()]).describe(what);

// ---------------------------------------------------------------- model

const backbone = z
  .strictObject({
    depth: z.literal([18, 34, 50]).default(50).describe('ResNet depth: 50 as in the paper; 18/34 for tests and edge use'),
    norm: z
      .enum(['frozen_bn', 'bn', 'gn'])
      .optional()
      .describe(
        "normalisation layers: 'frozen_bn' (mmdetection's norm_eval: BN statistics fixed, γ/β trained in the stages after frozenStages), 'bn' or 'gn' (train mode). Default: 'frozen_bn' with pretrained weights, 'bn' without",
      ),
    pretrained: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('path to a torchvision-named ResNet state dict to start from (.safetensors, or a PyTorch .pth such as torchvision\'s resnet50-0676ba61.pth); null trains from scratch. Relative paths in a config file are relative to that file'),
    frozenStages: z
      .int()
      .min(0)
      .max(4)
      .optional()
      .describe('stages whose parameters are not trained: 0 none, 1 stem + layer1, ... 4 all. Default: 1 with pretrained weights, 0 without'),
  })
  .describe('ResNet backbone with torchvision layout and parameter names');

const neck = z
  .strictObject({
    outChannels: positiveInt().default(256).describe('FPN channels'),
    numOutputs: positiveInt().default(5).describe('FPN levels P3..P7'),
    extraReluP7: z
      .boolean()
      .default(false)
      .describe("P7 = conv(relu(P6)) as torchvision's RetinaNet/FCOS; false: conv(P6), mmdetection's add_extra_convs='on_output' (the authors' config)"),
  })
  .describe('FPN on C3-C5 plus P6, P7');

const laCoefficients = z
  .strictObject({
    a: z.number().default(1).describe('weight of the input feature x (eq. 7)'),
    b: z.number().default(1).describe('weight of w1 * x, the label-aware term (eq. 7)'),
    c: z.number().default(1).describe('weight of w2 * x, the misleading-class term, subtracted (eq. 7)'),
  })
  .describe('LAcls coefficients of x_new = a*x + b*w1*x - c*w2*x; a + b/2 - c/2 = 1 keeps x when w = 0.5');

const head = z
  .strictObject({
    numClasses: positiveInt()
      .optional()
      .describe('number of object classes. Default: the length of `classes`, or 12 (CLCXray) when classes is null'),
    stackedConvs: positiveInt().default(4).describe('3x3 conv + GN + ReLU blocks in each tower'),
    featChannels: positiveInt().default(256).describe('channels of the tower convs'),
    regression: z
      .enum(['delta', 'distribution'])
      .default('distribution')
      .describe("'delta': 4 box deltas + centerness (vanilla ATSS); 'distribution': 4 x (regMax + 1) bins + quality branch (what LA was run with)"),
    regMax: positiveInt().default(16).describe('largest distance bin of the distribution head, in stride units'),
    la: z
      .enum(['none', 'cls', 'reg'])
      .default('cls')
      .describe("label-aware mechanism: 'none' (baseline), 'cls' (LAcls, the paper's best) or 'reg' (LAreg, needs regression 'distribution')"),
    laCoefficients: laCoefficients.prefault({}),
    laWeight: z
      .enum(['sigmoid', 'scaled'])
      .default('sigmoid')
      .describe(
        "how LA turns a feature gradient g into a weight: 'sigmoid' w = sigmoid(g) (the paper, eq. 5/6); 'scaled' w = sigmoid(g / tau), tau = the std of g over C x H x W per image and level (scale-free; not in the paper)",
      ),
    laRegTwice: z
      .boolean()
      .nullable()
      .default(null)
      .describe(
        'apply the regression tower twice before the box outputs, as the authors\' LA heads do. null: true with LA, false without; true without LA gives the control model with the deeper regression tower',
      ),
    anchorScale: positive().default(8).describe('anchor side = anchorScale x stride (one square anchor per location)'),
    strides: z.array(positiveInt()).min(1).default([8, 16, 32, 64, 128]).describe('stride of each FPN level; one per neck output'),
    priorProb: z.number().gt(0).lt(1).default(0.01).describe('initial foreground probability of the classifier bias'),
  })
  .describe('ATSS head: classification and regression towers, optional label-aware re-weighting');

const assigner = z
  .strictObject({
    topk: positiveInt().default(9).describe('candidate anchors per level and box, by centre distance'),
  })
  .describe('ATSS label assignment');

const loss = z
  .strictObject({
    focalAlpha: probability().default(0.25).describe('sigmoid focal loss alpha'),
    focalGamma: z.number().min(0).default(2).describe('sigmoid focal loss gamma'),
    giouWeight: z.number().min(0).default(2.0).describe('weight of the GIoU box loss'),
    qualityWeight: z.number().min(0).default(1.0).describe('weight of the quality (centerness / IoU) BCE loss'),
    distributionWeight: z
      .number()
      .min(0)
      .default(1.0)
      .describe("weight of the bin focal loss of the distribution head: 1.0 as the authors' loss_d (GFL's distribution focal loss uses 0.25)"),
  })
  .describe('loss weights and focal parameters');

const testCfg = z
  .strictObject({
    nmsPre: positiveInt().default(1000).describe('candidates kept per level before NMS, by score x quality'),
    scoreThreshold: probability().default(0.05).describe('minimum score of a detection'),
    nmsIou: probability().default(0.6).describe('class-wise NMS IoU threshold'),
    maxPerImage: positiveInt().default(100).describe('detections kept per image'),
    labelAware: z
      .boolean()
      .default(true)
      .describe('apply the label-aware reweighting at inference; false skips it (x_new = x, as with w1 = w2 = 0.5) and keeps the rest of the second prediction: an ablation'),
  })
  .describe('inference post-processing');

const model = z
  .strictObject({
    backbone: backbone.prefault({}),
    neck: neck.prefault({}),
    head: head.prefault({}),
    assigner: assigner.prefault({}),
    loss: loss.prefault({}),
    test: testCfg.prefault({}),
  })
  .describe('the network: ResNet-FPN-ATSS with the label-aware mechanism');

// ---------------------------------------------------------------- data

const split = (name: string) =>
  z
    .strictObject({
      annotations: z.string().min(1).describe('COCO detection JSON'),
      images: z.string().min(1).describe('folder the file_name fields are relative to'),
    })
    .nullable()
    .default(null)
    .describe(`${name} split, or null. Relative paths in a config file are relative to that file`);

const data = z
  .strictObject({
    train: split('training'),
    val: split('validation'),
    test: split('test'),
    imageScale: z.tuple([positiveInt(), positiveInt()]).default([1333, 800]).describe('[long, short]: resize keeping the aspect ratio to fit within it'),
    flipProbability: probability().default(0.5).describe('probability of a horizontal flip in training'),
    mean: rgb('per-channel mean (RGB, 0..255) subtracted before the network').default([123.675, 116.28, 103.53]),
    std: z
      .tuple([positive(), positive(), positive()])
      .default([58.395, 57.12, 57.375])
      .describe('per-channel std (RGB, 0..255) divided by after the mean'),
    padDivisor: positiveInt().default(32).describe('batches are padded to a multiple of this'),
    maxInputPixels: positiveInt()
      .default(DEFAULT_MAX_INPUT_PIXELS)
      .describe(
        'largest network input per image, in pixels (width × height after the resize): an imageScale or a detect() batch above it is refused before anything is allocated. Default 4096 × 4096; raise it explicitly for larger inputs (never taken from a weights file)',
      ),
    workers: nonNegativeInt()
      .default(() => availableParallelism())
      .describe('decode / augmentation worker threads; 0 decodes on the main thread. Default: the number of CPUs'),
    prefetch: nonNegativeInt().default(2).describe('batches decoded ahead of the one being consumed'),
    invalidBoxes: z
      .enum(['clip', 'drop', 'error'])
      .default('clip')
      .describe("boxes reaching outside the image: 'clip' to it, 'drop' them, or report an 'error'"),
    verifyImages: z
      .boolean()
      .default(true)
      .describe('read every image header (in parallel) before the first training step and list every unreadable or mis-sized file at once; false skips it (--set data.verifyImages=false)'),
  })
  .describe('datasets and the input pipeline');

// ---------------------------------------------------------------- train

const train = z
  .strictObject({
    batchSize: positiveInt().default(8).describe('images per iteration'),
    baseLr: positive().default(0.01).describe('learning rate at baseBatchSize; scaled linearly with batchSize'),
    baseBatchSize: positiveInt().default(8).describe('the batch size baseLr was tuned for'),
    momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum'),
    weightDecay: z.number().min(0).default(1e-4).describe('SGD weight decay'),
    warmupIters: nonNegativeInt().default(500).describe('iterations of linear warm-up (0: none)'),
    warmupRatio: z.number().gt(0).max(1).default(0.001).describe('learning rate at iteration 0, as a fraction of the regular one'),
    epochs: positiveInt().default(12).describe('training epochs'),
    lrSteps: z.array(positiveInt()).default([8, 11]).describe('epochs (counted from 0) at which the learning rate is multiplied by lrGamma'),
    lrGamma: z.number().gt(0).max(1).default(0.1).describe('learning rate factor at each lrSteps epoch'),
    gradClipNorm: positive().nullable().default(null).describe('clip the global gradient L2 norm to this; null: no clipping'),
    checkpointEvery: positiveInt().default(500).describe('iterations between checkpoints (one is also written at each epoch end)'),
    validateEvery: positiveInt().default(1).describe('epochs between validation runs (needs data.val)'),
    seed: nonNegativeInt().default(0).describe('seed of every random choice (init, shuffling, augmentation)'),
    maxNonFiniteInARow: positiveInt().default(10).describe('stop the run after this many NaN/Inf losses in a row'),
  })
  .describe('optimiser and schedule: SGD, linear warm-up, step decay');

/** The SGD settings of `train`: Detector.configureOptimizer checks its argument with the same rules. */
export const optimizerSettings = train.pick({ momentum: true, weightDecay: true, gradClipNorm: true });

// ---------------------------------------------------------------- whole

/** The config as written: every field optional except where noted; strict. */
export const configShape = z
  .strictObject({
    $schema: z.string().optional().describe('path or URL of the JSON Schema (configJsonSchema) for editors; ignored by laxray'),
    preset: z
      .enum(PRESET_NAMES)
      .nullable()
      .default(null)
      .describe(`start from a preset (${PRESET_NAMES.map((p) => `'${p}'`).join(', ')}); the other fields override it`),
    model: model.prefault({}),
    data: data.prefault({}),
    train: train.prefault({}),
    device: z
      .string()
      .regex(DEVICE_PATTERN, { error: "expected 'cpu', 'cuda' or 'cuda:<index>'" })
      .optional()
      .describe("'cpu', 'cuda' or 'cuda:<index>'. Default: LAXRAY_DEVICE, else 'cpu'"),
    threads: nonNegativeInt().default(0).describe('intra-op CPU threads of LibTorch; 0 uses all cores; at most 4 per core'),
    precision: z
      .enum(['fp32', 'tf32', 'bf16', 'fp16'])
      .default('fp32')
      .describe(
        "arithmetic of the network: 'fp32'; 'tf32' (CUDA tensor cores for float32 convs and matmuls; the same as fp32 on the CPU); 'bf16' (autocast to bfloat16, CUDA or CPU); 'fp16' (autocast to float16 with dynamic loss scaling, CUDA only)",
      ),
    labelAwarePrecision: z
      .enum(['fp32', 'compute'])
      .default('fp32')
      .describe(
        "precision of LA's gradient passes and reweighting under bf16/fp16: 'fp32' (default: w1 - w2 is about 0.01, finer than bfloat16 resolves) or 'compute' (the network's precision)",
      ),
    channelsLast: z.boolean().default(false).describe('channels-last (NHWC) memory layout for the convolutions (often faster on CUDA tensor cores)'),
    cudnnBenchmark: z
      .boolean()
      .default(true)
      .describe('on CUDA, let cuDNN time its convolution algorithms once per input shape and keep the fastest; no effect on the CPU'),
    classes: z
      .array(z.string().min(1))
      .min(1)
      .nullable()
      .default([...CLCXRAY_CLASSES])
      .describe('class names by contiguous label; null takes them from the training set. Default: the 12 CLCXray classes'),
  })
  .describe('a laxray run: model, data, training, device');

type ParsedShape = z.output<typeof configShape>;

/** Rules that tie fields together; each names the fields involved. */
function checkCrossField(c: ParsedShape, ctx: z.RefinementCtx): void {
  const head = c.model.head;
  if (head.la === 'reg' && head.regression !== 'distribution') {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'head', 'la'],
      message: `la 'reg' (LAreg) requires model.head.regression 'distribution', got '${head.regression}': set regression to 'distribution' or use la 'cls'/'none'`,
    });
  }
  if (head.strides.length !== c.model.neck.numOutputs) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'head', 'strides'],
      message: `has ${head.strides.length} strides but model.neck.numOutputs is ${c.model.neck.numOutputs}: give one stride per FPN level`,
    });
  }
  for (let i = 1; i < head.strides.length; i++) {
    if (head.strides[i]! <= head.strides[i - 1]!) {
      ctx.addIssue({ code: 'custom', path: ['model', 'head', 'strides'], message: `must increase level by level, got [${head.strides.join(', ')}]` });
      break;
    }
  }
  if (c.classes !== null) {
    if (head.numClasses !== undefined && head.numClasses !== c.classes.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'head', 'numClasses'],
        message: `is ${head.numClasses} but classes names ${c.classes.length}: make them agree (or leave numClasses out; it follows classes)`,
      });
    }
    const seen = new Set<string>();
    for (const name of c.classes) {
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['classes'], message: `'${name}' appears twice: class names must be unique` });
      seen.add(name);
    }
  }
  const [long, short] = c.data.imageScale;
  if (long * short > c.data.maxInputPixels) {
    ctx.addIssue({
      code: 'custom',
      path: ['data', 'imageScale'],
      message: `[${long}, ${short}] resizes images to up to ${long * short} pixels, above data.maxInputPixels (${c.data.maxInputPixels}): use a smaller scale, or raise data.maxInputPixels explicitly if the memory is there (one float32 RGB input takes 12 bytes per pixel)`,
    });
  }
  const steps = c.train.lrSteps;
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! <= steps[i - 1]!) {
      ctx.addIssue({ code: 'custom', path: ['train', 'lrSteps'], message: `must be increasing epochs, got [${steps.join(', ')}]` });
      break;
    }
  }
}

/** Fills the fields whose default is a rule (see the top of this file). */
function resolveDerived(c: ParsedShape, ctx: z.RefinementCtx) {
  const pretrained = c.model.backbone.pretrained !== null;
  const { numClasses, ...headRest } = c.model.head;
  let device = c.device;
  if (device === undefined) {
    const env = process.env.LAXRAY_DEVICE;
    if (env !== undefined && env !== '' && !DEVICE_PATTERN.test(env)) {
      ctx.addIssue({
        code: 'custom',
        path: ['device'],
        input: env,
        message: `unknown device '${env}' from LAXRAY_DEVICE: set it to 'cpu', 'cuda' or 'cuda:<index>', or set device in the config`,
      });
      return z.NEVER;
    }
    device = env !== undefined && env !== '' ? env : 'cpu';
  }
  if (c.precision === 'fp16' && device === 'cpu') {
    ctx.addIssue({
      code: 'custom',
      path: ['precision'],
      input: c.precision,
      message: "'fp16' needs a CUDA device (LibTorch's CPU autocast supports bfloat16 only): use 'bf16' or 'fp32' on the CPU, or device 'cuda'",
    });
    return z.NEVER;
  }
  const { $schema: _editorsOnly, ...rest } = c;
  return {
    ...rest,
    model: {
      ...c.model,
      backbone: {
        depth: c.model.backbone.depth,
        norm: c.model.backbone.norm ?? (pretrained ? 'frozen_bn' : 'bn'),
        pretrained: c.model.backbone.pretrained,
        frozenStages: c.model.backbone.frozenStages ?? (pretrained ? 1 : 0),
      },
      head: { numClasses: numClasses ?? c.classes?.length ?? CLCXRAY_CLASSES.length, ...headRest },
    },
    device: device as DeviceName,
  };
}

/** The JSON Schema of a config file (draft 2020-12), for editors: point a file's "$schema" at it. */
export function configJsonSchema(): Record<string, unknown> {
  jsonSchema ??= z.toJSONSchema(configShape, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return structuredClone(jsonSchema); // callers may change their copy
}
let jsonSchema: Record<string, unknown> | undefined;

/** Validates a config object (defaults filled, rules applied). Prefer resolveConfig, which adds presets and readable errors. */
export const configSchema = configShape.superRefine(checkCrossField).transform(resolveDerived);

/** A complete, validated run config: what the detector, trainer and CLI consume. */
export type LaxrayConfig = z.infer<typeof configSchema>;

/** A config as a user writes it: any subset of the fields (plus `preset`). */
export type LaxrayConfigInput = z.input<typeof configShape>;
