// Config: defaults are the paper's set-up, presets are small overrides, every
// mistake is an INVALID_CONFIG error naming the full key path, JSON syntax errors
// name file:line:column, and the lr schedule matches mmcv's formula by hand.
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LaxrayError } from '../lib/errors.js';
import { locateJsonError } from '../lib/json_file.js';
import {
  CLCXRAY_CLASSES,
  configReference,
  defaultConfig,
  effectiveLr,
  learningRateAt,
  overrideFromAssignment,
  configJsonSchema,
  presets,
  resolveConfig,
  type LaxrayConfigInput,
} from '../lib/config/index.js';
import { tempDir } from './helpers/temp_dir.js';

function configError(t: import('ava').ExecutionContext, input: unknown, overrides?: LaxrayConfigInput): LaxrayError {
  const err = t.throws(() => resolveConfig(input as LaxrayConfigInput, overrides), { instanceOf: LaxrayError }) as LaxrayError;
  t.is(err.code, 'INVALID_CONFIG');
  return err;
}

async function withFile<T>(text: string, fn: (file: string) => T | Promise<T>): Promise<T> {
  const dir = tempDir('config');
  const file = path.join(dir, 'run.json');
  await writeFile(file, text);
  return await fn(file);
}

test("defaults are the paper's set-up (docs/design.md, section Defaults; paper V.A)", (t) => {
  const saved = process.env.LAXRAY_DEVICE;
  delete process.env.LAXRAY_DEVICE;
  try {
    const c = defaultConfig();
    t.deepEqual(c.model.backbone, { depth: 50, norm: 'bn', pretrained: null, frozenStages: 0 });
    t.deepEqual(c.model.neck, { outChannels: 256, numOutputs: 5, extraReluP7: false });
    t.deepEqual(c.model.head, {
      numClasses: 12,
      stackedConvs: 4,
      featChannels: 256,
      regression: 'distribution',
      regMax: 16,
      la: 'cls',
      laCoefficients: { a: 1, b: 1, c: 1 },
      laWeight: 'sigmoid',
      laRegTwice: null,
      anchorScale: 8,
      strides: [8, 16, 32, 64, 128],
      priorProb: 0.01,
    });
    t.deepEqual(c.model.assigner, { topk: 9 });
    t.deepEqual(c.model.loss, { focalAlpha: 0.25, focalGamma: 2, giouWeight: 2, qualityWeight: 1, distributionWeight: 1 });
    t.deepEqual(c.model.test, { nmsPre: 1000, scoreThreshold: 0.05, nmsIou: 0.6, maxPerImage: 100, labelAware: true });
    const { workers, ...data } = c.data;
    t.true(Number.isInteger(workers) && workers >= 1, 'workers defaults to the CPU count');
    t.deepEqual(data, {
      train: null,
      val: null,
      test: null,
      imageScale: [1333, 800],
      flipProbability: 0.5,
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
      padDivisor: 32,
      maxInputPixels: 4096 * 4096,
      prefetch: 2,
      invalidBoxes: 'clip',
      verifyImages: true,
    });
    t.deepEqual(c.train, {
      batchSize: 8,
      baseLr: 0.01,
      baseBatchSize: 8,
      momentum: 0.9,
      weightDecay: 1e-4,
      warmupIters: 500,
      warmupRatio: 0.001,
      epochs: 12,
      lrSteps: [8, 11],
      lrGamma: 0.1,
      gradClipNorm: null,
      checkpointEvery: 500,
      validateEvery: 1,
      seed: 0,
      maxNonFiniteInARow: 10,
    });
    t.is(c.device, 'cpu');
    t.is(c.threads, 0);
    t.deepEqual(c.classes, [
      'blade', 'dagger', 'knife', 'scissors', 'swiss army knife', 'cans', 'carton drinks',
      'glass bottle', 'plastic bottle', 'vacuum cup', 'spray cans', 'tin',
    ]);
    t.is(CLCXRAY_CLASSES.length, 12);
    t.is(c.preset, null);
  } finally {
    if (saved !== undefined) process.env.LAXRAY_DEVICE = saved;
  }
});

test('pretrained weights switch the defaults to frozen BN and a frozen stem + layer1; explicit values win', (t) => {
  const c = resolveConfig({ model: { backbone: { pretrained: '/w/resnet50.safetensors' } } });
  t.is(c.model.backbone.norm, 'frozen_bn');
  t.is(c.model.backbone.frozenStages, 1);
  const d = resolveConfig({ model: { backbone: { pretrained: '/w/resnet50.safetensors', norm: 'gn', frozenStages: 0 } } });
  t.is(d.model.backbone.norm, 'gn');
  t.is(d.model.backbone.frozenStages, 0);
});

test('device defaults to LAXRAY_DEVICE; the config wins over it; a bad LAXRAY_DEVICE is named', (t) => {
  const saved = process.env.LAXRAY_DEVICE;
  try {
    process.env.LAXRAY_DEVICE = 'cuda:1';
    t.is(resolveConfig({}).device, 'cuda:1');
    t.is(resolveConfig({ device: 'cpu' }).device, 'cpu');
    process.env.LAXRAY_DEVICE = 'gpu';
    const err = configError(t, {});
    t.regex(err.message, /device: unknown device 'gpu' from LAXRAY_DEVICE/);
  } finally {
    if (saved === undefined) delete process.env.LAXRAY_DEVICE;
    else process.env.LAXRAY_DEVICE = saved;
  }
});

test('numClasses follows classes unless given; a disagreement is an error', (t) => {
  t.is(resolveConfig({ classes: ['gun', 'knife'] }).model.head.numClasses, 2);
  t.is(resolveConfig({ classes: null }).model.head.numClasses, 12);
  t.is(resolveConfig({ classes: null, model: { head: { numClasses: 6 } } }).model.head.numClasses, 6);
  const err = configError(t, { classes: ['gun', 'knife'], model: { head: { numClasses: 3 } } });
  t.is(err.message, 'config: model.head.numClasses: is 3 but classes names 2: make them agree (or leave numClasses out; it follows classes)');
});

test('presets: atss is the delta/no-LA baseline, atss-dist(-reg2) the controls, atss-lacls and atss-lareg the distribution head with LA', (t) => {
  const atss = resolveConfig({ preset: 'atss' });
  t.is(atss.model.head.regression, 'delta');
  t.is(atss.model.head.la, 'none');
  t.is(atss.preset, 'atss');
  const dist = resolveConfig({ preset: 'atss-dist' });
  t.deepEqual([dist.model.head.regression, dist.model.head.la, dist.model.head.laRegTwice], ['distribution', 'none', null]);
  const reg2 = resolveConfig({ preset: 'atss-dist-reg2' });
  t.deepEqual([reg2.model.head.regression, reg2.model.head.la, reg2.model.head.laRegTwice], ['distribution', 'none', true]);
  // The paper's presets keep the authors' bin-loss weight.
  for (const name of ['atss-dist', 'atss-dist-reg2', 'atss-lacls', 'atss-lareg'] as const) {
    t.is(resolveConfig({ preset: name }).model.loss.distributionWeight, 1, name);
  }
  const lacls = resolveConfig({ preset: 'atss-lacls' });
  t.is(lacls.model.head.regression, 'distribution');
  t.is(lacls.model.head.la, 'cls');
  const lareg = resolveConfig({ preset: 'atss-lareg' });
  t.is(lareg.model.head.regression, 'distribution');
  t.is(lareg.model.head.la, 'reg');
  // Small overrides: nothing but the head's regression, la (and the control's laRegTwice) differ from the defaults.
  for (const [name, preset] of Object.entries(presets)) {
    t.deepEqual(Object.keys(preset), ['model'], name);
    t.deepEqual(Object.keys(preset.model!), ['head'], name);
    const keys = name === 'atss-dist-reg2' ? ['la', 'laRegTwice', 'regression'] : ['la', 'regression'];
    t.deepEqual(Object.keys(preset.model!.head!).sort(), keys, name);
    const { preset: _p, ...rest } = resolveConfig({ preset: name as 'atss' });
    const { preset: _d, ...defaults } = defaultConfig();
    const head = { ...rest.model.head, la: 'cls' as const, regression: 'distribution' as const, laRegTwice: null };
    t.deepEqual({ ...rest, model: { ...rest.model, head } }, defaults, name);
  }
});

test('a preset with overrides deep-merges: sibling fields keep their preset/default values', (t) => {
  const c = resolveConfig({ preset: 'atss', model: { head: { laCoefficients: { b: 0.5 } }, backbone: { depth: 18 } }, train: { lrSteps: [2] } });
  t.is(c.model.head.regression, 'delta'); // from the preset
  t.is(c.model.head.la, 'none'); // from the preset
  t.deepEqual(c.model.head.laCoefficients, { a: 1, b: 0.5, c: 1 }); // merged key by key
  t.is(c.model.head.featChannels, 256); // default
  t.is(c.model.backbone.depth, 18);
  t.deepEqual(c.train.lrSteps, [2]); // arrays replace, not merge
  // A field of the preset can itself be overridden.
  t.is(resolveConfig({ preset: 'atss-lareg', model: { head: { la: 'cls' } } }).model.head.la, 'cls');
  // Overrides (the CLI's flags) come last, over the file and the preset.
  const o = resolveConfig({ preset: 'atss', train: { batchSize: 4 } }, { train: { batchSize: 2 }, device: 'cpu' });
  t.is(o.train.batchSize, 2);
  t.is(o.train.epochs, 12);
});

test('a resolved config resolves to itself (checkpoints store it)', (t) => {
  const c = resolveConfig({ preset: 'atss', model: { backbone: { pretrained: '/w.safetensors' } }, device: 'cpu' });
  t.deepEqual(resolveConfig(JSON.parse(JSON.stringify(c)) as LaxrayConfigInput), c);
});

test('an unknown key names its full path and suggests the closest known key', (t) => {
  const err = configError(t, { model: { head: { regresion: 'delta' } } });
  t.is(err.message, 'config: model.head.regresion: unknown key (did you mean regression?)');
  t.deepEqual(err.details, ['model.head.regresion: unknown key (did you mean regression?)']);
  t.regex(configError(t, { train: { batch_size: 4 } }).message, /train\.batch_size: unknown key \(did you mean batchSize\?\)/);
  t.regex(configError(t, { modle: {} }).message, /^config: modle: unknown key \(did you mean model\?\)$/);
  t.regex(configError(t, { data: { zzz: 1 } }).message, /data\.zzz: unknown key \(known keys: train, val, test, imageScale, /);
});

test('a wrong type names the key, the expected type and what was given', (t) => {
  t.is(configError(t, { model: { head: { regMax: '16' } } }).message, 'config: model.head.regMax: expected an integer ≥ 1, got string "16"');
  t.is(configError(t, { train: { gradClipNorm: 'none' } }).message, 'config: train.gradClipNorm: expected a number > 0 or null, got string "none"');
  t.is(configError(t, { data: { train: 'train.json' } }).message, 'config: data.train: expected an object {annotations, images} or null, got string "train.json"');
  t.is(configError(t, { model: { head: { laRegTwice: 1 } } }).message, 'config: model.head.laRegTwice: expected true or false or null, got number 1');
  t.is(configError(t, { data: { workers: 1.5 } }).message, 'config: data.workers: expected an integer ≥ 0, got number 1.5');
  t.is(configError(t, { data: { imageScale: [1333] } }).message, 'config: data.imageScale: expected [integer ≥ 1, integer ≥ 1] (2 numbers), got an array of 1 item');
  t.is(configError(t, { model: 5 }).message, 'config: model: expected an object {backbone, neck, head, assigner, loss, test}, got number 5');
  t.is(configError(t, { train: { batchSize: 0 } }).message, 'config: train.batchSize: must be ≥ 1, got 0');
  t.is(configError(t, { data: { val: { annotations: 'val.json' } } }).message, 'config: data.val.images: missing; add it (expected a string)');
});

test('a bad enum value lists the choices and suggests the closest', (t) => {
  t.is(
    configError(t, { model: { head: { regression: 'distrib' } } }).message,
    "config: model.head.regression: expected one of 'delta', 'distribution', got 'distrib' (did you mean 'distribution'?)",
  );
  t.is(configError(t, { model: { backbone: { depth: 101 } } }).message, 'config: model.backbone.depth: expected one of 18, 34, 50, got number 101');
  t.is(configError(t, { device: 'gpu' }).message, `config: device: expected 'cpu', 'cuda' or 'cuda:<index>', got string "gpu"`);
  t.is(
    configError(t, { preset: 'atss-lcls' }).message,
    "config: preset: unknown preset 'atss-lcls' (did you mean 'atss-lacls'?); presets: atss, atss-dist, atss-dist-reg2, atss-lacls, atss-lareg",
  );
});

test("la 'reg' with the delta head is an error that says LAreg needs the distribution head", (t) => {
  const err = configError(t, { model: { head: { la: 'reg', regression: 'delta' } } });
  t.is(err.message, "config: model.head.la: la 'reg' (LAreg) requires model.head.regression 'distribution', got 'delta': set regression to 'distribution' or use la 'cls'/'none'");
  configError(t, { preset: 'atss', model: { head: { la: 'reg' } } });
  t.notThrows(() => resolveConfig({ preset: 'atss-lareg' }));
});

test('every problem is reported at once, one per line, in details', (t) => {
  const err = configError(t, { model: { head: { regMax: 'x', strides: [8, 16] }, backbone: { norm: 'batch' } }, train: { lrSteps: [11, 8], epochs: 0 } });
  t.true(err.message.startsWith('config: '));
  t.regex(err.message, /problems:\n {2}- /);
  t.true(err.details.some((d) => d.startsWith('model.head.regMax: expected an integer')));
  t.true(err.details.some((d) => d.startsWith("model.backbone.norm: expected one of 'frozen_bn', 'bn', 'gn'")));
  t.true(err.details.some((d) => d.startsWith('train.epochs: must be ≥ 1, got 0')));
  // Cross-field rules only run on well-typed configs; they are checked separately.
  const err2 = configError(t, { model: { head: { strides: [8, 16] } }, train: { lrSteps: [11, 8] } });
  t.deepEqual(err2.details, [
    'model.head.strides: has 2 strides but model.neck.numOutputs is 5: give one stride per FPN level',
    'train.lrSteps: must be increasing epochs, got [11, 8]',
  ]);
});

test('a config file: preset + overrides, relative paths taken from the file, the file named in errors', async (t) => {
  const text = JSON.stringify({
    preset: 'atss-lacls',
    model: { backbone: { depth: 18, pretrained: 'weights/r18.safetensors' } },
    data: { train: { annotations: 'data/train.json', images: '/abs/images' } },
    train: { batchSize: 2 },
  });
  await withFile(text, (file) => {
    const c = resolveConfig(file);
    const dir = path.dirname(file);
    t.is(c.preset, 'atss-lacls');
    t.is(c.model.head.la, 'cls');
    t.is(c.model.backbone.depth, 18);
    t.is(c.model.backbone.norm, 'frozen_bn');
    t.is(c.model.backbone.pretrained, path.join(dir, 'weights/r18.safetensors'));
    t.deepEqual(c.data.train, { annotations: path.join(dir, 'data/train.json'), images: '/abs/images' });
    t.is(c.train.batchSize, 2);
  });
  await withFile('{"model": {"head": {"regresion": "delta"}}}', (file) => {
    const err = configError(t, file);
    t.is(err.message, `config file ${file}: model.head.regresion: unknown key (did you mean regression?)`);
  });
  await withFile('[1, 2]', (file) => {
    t.regex(configError(t, file).message, /run\.json: expected an object of settings at the top level, got an array of 2 items/);
  });
  const missing = t.throws(() => resolveConfig('/nonexistent/laxray.json'), { instanceOf: LaxrayError }) as LaxrayError;
  t.is(missing.code, 'IO_ERROR');
  t.is(missing.message, 'cannot read the config file /nonexistent/laxray.json: no such file; check the path');
});

test('malformed JSON names the file, line and column', async (t) => {
  const text = '{\n  "model": {\n    "head": { "la": "cls", }\n  }\n}\n';
  await withFile(text, (file) => {
    const err = configError(t, file);
    // Line 3 is `    "head": { "la": "cls", }`; the '}' after the trailing comma is column 28.
    t.is(err.message, `${file}:3:28: the config file is not valid JSON at line 3, column 28: trailing comma before '}'; fix the file (JSON allows no comments or trailing commas; is it truncated?)`);
  });
  await withFile('{\n  "train": {\n    "epochs": 12\n    "seed": 1\n  }\n}', (file) => {
    t.regex(configError(t, file).message, /run\.json:4:5: the config file is not valid JSON at line 4, column 5: expected ',' or '}' after a property value, found '"'/);
  });
  await withFile('{\n  "train": { "epochs": 12 }', (file) => {
    t.regex(configError(t, file).message, /run\.json:2:28: .*expected ',' or '}' after a property value, found end of file/);
  });
});

test('the JSON locator on hand-placed errors', (t) => {
  t.like(locateJsonError('{"a": tru}'), { line: 1, column: 7, reason: "expected a value, found 't'" });
  t.like(locateJsonError('{\n"a": 1,\n// c\n"b": 2}'), { line: 3, column: 1, reason: "expected a double-quoted property name, found '/'" });
  t.like(locateJsonError("{'a': 1}"), { line: 1, column: 2 });
  t.like(locateJsonError('[1, 2,]'), { line: 1, column: 7, reason: "trailing comma before ']'" });
  t.like(locateJsonError('{"a": "x\ny"}'), { line: 1, column: 9, reason: 'control character (e.g. a line break) inside a string' });
  t.like(locateJsonError(''), { line: 1, column: 1, reason: 'the file is empty' });
  t.like(locateJsonError('{} {}'), { line: 1, column: 4, reason: "unexpected '{' after the end of the JSON value" });
});

test('effectiveLr scales the base lr linearly with the batch size', (t) => {
  t.is(effectiveLr(defaultConfig()), 0.01);
  t.is(effectiveLr(resolveConfig({ train: { batchSize: 16 } })), 0.02);
  t.is(effectiveLr(resolveConfig({ train: { batchSize: 2, baseLr: 0.02, baseBatchSize: 16 } })), 0.0025);
});

test("learningRateAt follows mmcv's linear warm-up and step decay (hand-computed)", (t) => {
  const c = defaultConfig(); // lr 0.01, warm-up 500 iterations from 0.001x, x0.1 at epochs 8 and 11
  const close = (actual: number, expected: number, what: string) => t.true(Math.abs(actual - expected) <= 1e-15, `${what}: ${actual} != ${expected}`);
  // lr · (1 − (1 − it/500) · (1 − 0.001))
  close(learningRateAt(c, 0, 0), 0.01 * 0.001, 'it 0'); // 1e-5
  close(learningRateAt(c, 250, 0), 0.01 * 0.5005, 'it 250'); // k = 0.5 · 0.999 = 0.4995
  close(learningRateAt(c, 499, 0), 0.01 * 0.998002, 'it 499'); // k = 0.002 · 0.999
  close(learningRateAt(c, 500, 0), 0.01, 'it 500: warm-up over');
  close(learningRateAt(c, 5000, 7), 0.01, 'epoch 7');
  close(learningRateAt(c, 8000, 8), 0.001, 'epoch 8: first step');
  close(learningRateAt(c, 10000, 10), 0.001, 'epoch 10');
  close(learningRateAt(c, 11000, 11), 0.0001, 'epoch 11: second step');
  // Batch 16 doubles the lr; warm-up applies to the scaled lr: 0.02 · (1 − 0.8 · 0.999) = 0.004016.
  close(learningRateAt(resolveConfig({ train: { batchSize: 16 } }), 100, 0), 0.004016, 'batch 16, it 100');
  // As mmcv, warm-up multiplies the regular (already decayed) lr: 0.001 · 0.2008.
  close(learningRateAt(c, 100, 8), 0.0002008, 'warm-up inside a decayed epoch');
  // No warm-up.
  close(learningRateAt(resolveConfig({ train: { warmupIters: 0 } }), 0, 0), 0.01, 'warmupIters 0');
  t.throws(() => learningRateAt(c, -1, 0), { instanceOf: LaxrayError, message: /iteration must be an integer ≥ 0, got -1/ });
});

test('overrideFromAssignment turns key.path=value into an override object', (t) => {
  t.deepEqual(overrideFromAssignment('train.batchSize=4'), { train: { batchSize: 4 } });
  t.deepEqual(overrideFromAssignment('model.head.la=reg'), { model: { head: { la: 'reg' } } });
  t.deepEqual(overrideFromAssignment('data.imageScale=[640, 480]'), { data: { imageScale: [640, 480] } });
  t.deepEqual(overrideFromAssignment('train.gradClipNorm=null'), { train: { gradClipNorm: null } });
  t.is(resolveConfig({}, overrideFromAssignment('model.head.regression=delta')).model.head.regression, 'delta');
  t.throws(() => overrideFromAssignment('batchSize'), { instanceOf: LaxrayError, message: /expected key\.path=value/ });
});

test('every setting is documented: the reference lists each leaf with a description and a default', (t) => {
  const fields = configReference();
  const keys = fields.map((f) => f.key);
  for (const key of ['model.backbone.norm', 'model.head.la', 'model.head.laCoefficients.a', 'data.imageScale', 'train.lrSteps', 'device', 'classes']) {
    t.true(keys.includes(key), key);
  }
  for (const f of fields) t.true(f.description.length > 5, `${f.key} has no description`);
  t.like(fields.find((f) => f.key === 'model.backbone.norm'), { default: "'frozen_bn' with pretrained weights, 'bn' without" });
  t.like(fields.find((f) => f.key === 'train.lrSteps'), { default: '[8,11]', accepts: 'an array of integers ≥ 1' });
});

test('a "$schema" key (for editors) is accepted and dropped; configJsonSchema describes the file format', (t) => {
  const c = resolveConfig({ $schema: './laxray.schema.json', preset: 'atss' });
  t.false('$schema' in c);
  t.is(c.model.head.la, 'none');
  const schema = configJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown> }>; additionalProperties: boolean };
  t.is(schema.additionalProperties, false);
  t.like(schema.properties.model!.properties!.backbone, { type: 'object', additionalProperties: false });
  t.like((schema.properties.train!.properties as Record<string, unknown>).batchSize, { default: 8, type: 'integer' });
});

test('a __proto__ key is reported as a key, never as "must be an object, got an object", and never reaches a prototype', (t) => {
  // an object literal with __proto__ sets its prototype: say so instead of "got an object"
  const literal = { __proto__: { train: { epochs: 3 } } } as unknown as LaxrayConfigInput;
  const top = configError(t, literal);
  t.regex(top.message, /prototype/);
  t.notRegex(top.message, /got an object$/);
  const over = t.throws(() => resolveConfig({}, literal), { instanceOf: LaxrayError })!;
  t.regex(over.message, /prototype/);
  // a JSON __proto__ key (own property) is an unknown key, also nested and in overrides
  t.regex(configError(t, JSON.parse('{"model": {"__proto__": {"x": 1}}}')).message, /model\.__proto__: unknown key/);
  t.regex(configError(t, {}, JSON.parse('{"__proto__": {"train": {"epochs": 2}}}')).message, /^config: __proto__: unknown key/);
  t.is(({} as Record<string, unknown>).train, undefined);
  // --set __proto__.x=1 was silently dropped: refused by name
  const set = t.throws(() => overrideFromAssignment('__proto__.train=1'), { instanceOf: LaxrayError })!;
  t.regex(set.message, /__proto__/);
  t.throws(() => overrideFromAssignment('model.constructor.prototype=1'), { instanceOf: LaxrayError, message: /constructor/ });
});

test('a config file nested 100 000 levels deep with a syntax error is INVALID_CONFIG naming the depth, not a stack overflow', async (t) => {
  await withFile('{"train": ' + '{"a": '.repeat(100_000), (file) => {
    const err = configError(t, file);
    t.regex(err.message, /nested more than 2000 levels deep/);
    t.notRegex(err.message, /NaN|Maximum call stack/);
  });
});
