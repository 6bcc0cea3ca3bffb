// The parsers under fuzz. Each target turns a file's bytes into what laxray
// makes of them; the invariant (harness.ts) is that every input either loads
// — and then satisfies the target's own check of a correct result — or is
// refused with a LaxrayError of one of the target's codes. Inputs come from
// structure-aware generators: valid seed files mutated at the byte level and,
// where the file is JSON, at the value level (mutate.ts).
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import sharp from 'sharp';
import { LaxrayError, type LaxrayErrorCode } from '../../lib/errors.js';
import { encodeSafetensors, laxrayTensorKind, parseSafetensors } from '../../lib/checkpoint/safetensors.js';
import { COCO_FILE, parseCocoDataset } from '../../lib/data/coco.js';
import { parseJsonText } from '../../lib/json_file.js';
import { convertOpixray } from '../../lib/data/opixray.js';
import { preprocess } from '../../lib/data/loader.js';
import { readGrey16 } from '../../lib/data/dual_energy.js';
import { parseResultsFast } from '../../lib/eval/parse-results.js';
import { detectionsFromJson, indexDetections, indexGroundTruth } from '../../lib/eval/validate.js';
import { resolveConfig } from '../../lib/config/index.js';
import { tempDir } from '../helpers/temp_dir.js';
import { applyByteEdits, applyJsonEdits, byteEdits, jsonEdits, toJsonText, type Json } from './mutate.js';

export interface FuzzTarget {
  name: string;
  /** Codes a refusal may carry. */
  codes: readonly LaxrayErrorCode[];
  /** Valid files the generators start from (each must load). */
  seeds(): Promise<Uint8Array[]>;
  /** Inputs made from the seeds. */
  inputs(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array>;
  /** Loads `bytes`; on success, throws an Error when the result is not a correct load. */
  run(bytes: Uint8Array): Promise<void>;
}

const text = (s: string) => new TextEncoder().encode(s);
const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const scratch = tempDir('fuzz');
let scratchFiles = 0;
/** A fresh file holding `bytes`, alone in its folder (some parsers only take paths or folders). */
function scratchFile(bytes: Uint8Array, name: string): string {
  const dir = path.join(scratch, String(scratchFiles++));
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`loaded but wrong: ${what}`);
}

/** A seed file mutated byte by byte. */
const bytesOf = (seeds: Uint8Array[]) => fc.tuple(fc.constantFrom(...seeds), byteEdits()).map(([s, e]) => applyByteEdits(s, e));
/** A JSON seed mutated value by value, written out as text. */
const jsonOf = (seeds: Uint8Array[]) =>
  fc.tuple(fc.constantFrom(...seeds), jsonEdits()).map(([s, e]) => text(toJsonText(applyJsonEdits(JSON.parse(utf8(s)) as Json, e))));
/** Both kinds of mutation, and now and then the seed itself. */
const jsonInputs = (seeds: Uint8Array[]) =>
  fc.oneof({ weight: 6, arbitrary: jsonOf(seeds) }, { weight: 3, arbitrary: bytesOf(seeds) }, { weight: 1, arbitrary: fc.constantFrom(...seeds) });

// ------------------------------------------------------------------ safetensors

const safetensors: FuzzTarget = {
  name: 'safetensors',
  codes: ['CHECKPOINT_ERROR'],
  async seeds() {
    return [
      encodeSafetensors(
        {
          'head.conv.weight': { data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 7]), shape: [2, 3] },
          'head.conv.bias': { data: Float32Array.from([0.25, 0.5]), shape: [2] },
          'bn.num_batches_tracked': { data: Int32Array.from([42]), shape: [] },
          'empty.weight': { data: new Float32Array(0), shape: [0, 4] },
        },
        { format: 'laxray', config: '{"classes":["a"]}' },
      ),
    ];
  },
  inputs(seeds) {
    // header-level: the JSON header mutated, the data kept (or cut / grown)
    const header = fc.tuple(fc.constantFrom(...seeds), jsonEdits(3), fc.integer({ min: -8, max: 8 })).map(([seed, edits, grow]) => {
      const length = Number(Buffer.from(seed).readBigUInt64LE(0));
      const json = JSON.parse(utf8(seed.subarray(8, 8 + length))) as Json;
      const data = seed.subarray(8 + length);
      const head = Buffer.from(toJsonText(applyJsonEdits(json, edits)));
      const out = Buffer.alloc(8 + head.length + Math.max(0, data.length + grow));
      out.writeBigUInt64LE(BigInt(head.length), 0);
      head.copy(out, 8);
      Buffer.from(data.subarray(0, Math.max(0, data.length + grow))).copy(out, 8 + head.length);
      return new Uint8Array(out);
    });
    return fc.oneof({ weight: 6, arbitrary: header }, { weight: 4, arbitrary: bytesOf(seeds) });
  },
  async run(bytes) {
    const { tensors, metadata } = parseSafetensors(bytes, 'fuzz.safetensors');
    expect(Object.getPrototypeOf(tensors) === null && Object.getPrototypeOf(metadata) === null, 'null-prototype maps');
    for (const [name, t] of Object.entries(tensors)) {
      expect(t.data.length === t.shape.reduce((a, b) => a * b, 1), `${name}: ${t.data.length} values for shape ${t.shape}`);
      const kind = t.data instanceof Float32Array ? 'float' : t.data instanceof Int32Array ? 'int' : 'byte';
      expect(kind === laxrayTensorKind(name), `${name} loaded as ${kind}`);
    }
    for (const v of Object.values(metadata)) expect(typeof v === 'string', 'metadata values are strings');
  },
};

// ------------------------------------------------------------------ COCO datasets

const cocoSeed = {
  info: { description: 'fuzz seed' },
  images: [
    { id: 1, file_name: 'a.png', width: 100, height: 50 },
    { id: 2, file_name: 'sub/b.png', width: 40, height: 80, license: 3 },
  ],
  categories: [
    { id: 7, name: 'scissors', supercategory: 'threat' },
    { id: 3, name: 'knife' },
  ],
  annotations: [
    { id: 10, image_id: 1, category_id: 3, bbox: [10, 5, 20, 10], area: 200, iscrowd: 0 },
    { id: 11, image_id: 1, category_id: 7, bbox: [50, 20, 60, 25], area: 1500, iscrowd: 0 },
    { id: 12, image_id: 2, category_id: 7, bbox: [0, 0, 10, 10], area: 100, iscrowd: 1 },
    { id: 13, image_id: 2, category_id: 3, bbox: [5, 60, 30, 15], area: 450, ignore: 1, segmentation: [[1, 2, 3, 4]] },
  ],
};

const coco: FuzzTarget = {
  name: 'coco',
  codes: ['INVALID_DATASET'],
  async seeds() {
    return [text(JSON.stringify(cocoSeed))];
  },
  inputs: jsonInputs,
  async run(bytes) {
    const json = parseJsonText(utf8(bytes), 'fuzz.json', COCO_FILE);
    const ds = await parseCocoDataset(json, { source: 'fuzz.json', imageRoot: '/nonexistent', checkFiles: false });
    expect(ds.categories.every((c, i) => c.label === i) && ds.numClasses === ds.categories.length, 'labels 0..C-1');
    for (const im of ds.images) {
      const { boxes, labels } = im.annotations;
      for (let j = 0; j < labels.length; j++) {
        const [x1, y1, x2, y2] = boxes.subarray(4 * j, 4 * j + 4);
        expect(labels[j]! >= 0 && labels[j]! < ds.numClasses, `label ${labels[j]}`);
        expect(0 <= x1! && x1! < x2! && x2! <= im.width && 0 <= y1! && y1! < y2! && y2! <= im.height, `clipped box ${[x1, y1, x2, y2]} in ${im.width}×${im.height}`);
      }
    }
  },
};

// ------------------------------------------------------------------ eval: results and ground truth

const groundTruth = indexGroundTruth(cocoSeed, { source: 'gt' });
const resultsSeed = [
  { image_id: 1, category_id: 3, bbox: [10.5, 5, 20, 10], score: 0.9 },
  { image_id: 1, category_id: 7, bbox: [50, 20, 30, 25.25], score: 0.31 },
  { image_id: 2, category_id: 7, bbox: [0, 0, 10, 10], score: 1e-3 },
  { image_id: 2, category_id: 3, bbox: [5, 60, 30, 15], score: 0.5, extra: 'kept?' },
];

const results: FuzzTarget = {
  name: 'eval-results',
  codes: ['INVALID_DETECTIONS'],
  async seeds() {
    return [text(JSON.stringify(resultsSeed)), text(JSON.stringify(resultsSeed, null, 2))];
  },
  inputs: jsonInputs,
  async run(bytes) {
    // differential: the byte-level reader must agree with JSON.parse + validation whenever it accepts
    const fast = parseResultsFast(bytes);
    let json: unknown;
    try {
      json = JSON.parse(utf8(bytes).replace(/^\uFEFF/, ''));
    } catch {
      expect(fast === null, 'the fast reader accepted text JSON.parse rejects');
      return;
    }
    let slow: ReturnType<typeof detectionsFromJson> | undefined;
    try {
      slow = detectionsFromJson(json, { source: 'fuzz.json' });
    } finally {
      if (fast !== null) expect(slow !== undefined, 'the fast reader accepted results the validator rejects');
    }
    if (fast !== null) {
      expect(fast.count === slow.count, `${fast.count} vs ${slow.count} detections`);
      for (const key of ['imageId', 'categoryId', 'box', 'score'] as const) {
        for (let i = 0; i < (key === 'box' ? 4 : 1) * fast.count; i++) expect(Object.is(fast[key][i], slow[key][i]), `${key}[${i}]: ${fast[key][i]} vs ${slow[key][i]}`);
      }
    }
    const indexed = indexDetections(slow, groundTruth, { source: 'fuzz.json' });
    expect(indexed !== undefined, 'indexed');
  },
};

const evalGroundTruth: FuzzTarget = {
  name: 'eval-ground-truth',
  codes: ['INVALID_DATASET'],
  async seeds() {
    return [text(JSON.stringify(cocoSeed))];
  },
  inputs: jsonInputs,
  async run(bytes) {
    let json: unknown;
    try {
      json = JSON.parse(utf8(bytes));
    } catch {
      return; // JSON syntax is json_file.ts's parseJsonText, covered by its own tests
    }
    indexGroundTruth(json, { source: 'fuzz.json' });
  },
};

// ------------------------------------------------------------------ OPIXray annotations

const opixrayDir = path.join(scratch, 'opixray');
let opixrayImages: Promise<void> | undefined;
function opixrayFolder(): Promise<void> {
  opixrayImages ??= (async () => {
    mkdirSync(path.join(opixrayDir, 'images'), { recursive: true });
    for (const [name, w, h] of [['009000.jpg', 64, 48], ['009001.jpg', 32, 40]] as const) {
      await sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } }).jpeg().toFile(path.join(opixrayDir, 'images', name));
    }
  })();
  return opixrayImages;
}

const opixray: FuzzTarget = {
  name: 'opixray',
  codes: ['INVALID_DATASET'],
  async seeds() {
    return [
      text('009000.jpg Folding_Knife 10 5 40 30\n009000.jpg Scissor 0 0 64 48\r\n'),
      text('\uFEFF009001.jpg Multi-tool_Knife 1.5 2.5 30 39.75\n\n'),
    ];
  },
  inputs(seeds) {
    const tokens = fc.constantFrom('009000.jpg', '009001.TIFF', 'Straight_Knife', 'scissor', '-1', '1e400', 'NaN', '0x10', '99999', ' ', '\t', '\n', '\u00a0', '');
    const lineLevel = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), tokens), { minLength: 1, maxLength: 4 })).map(([seed, edits]) => {
      const words = utf8(seed).split(' ');
      for (const [at, token] of edits) words[at % words.length] = token;
      return text(words.join(' '));
    });
    return fc.oneof(lineLevel, bytesOf(seeds));
  },
  async run(bytes) {
    await opixrayFolder();
    const annotations = path.dirname(scratchFile(bytes, '009000.txt'));
    for (const strict of [true, false]) {
      const { coco: out } = await convertOpixray({ imagesDir: path.join(opixrayDir, 'images'), annotationsDir: annotations, strict });
      for (const a of out.annotations) {
        const im = out.images.find((i) => i.id === a.image_id)!;
        const [x, y, w, h] = a.bbox;
        expect(w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= im.width && y + h <= im.height, `box ${a.bbox} in ${im.width}×${im.height}`);
      }
    }
  },
};

// ------------------------------------------------------------------ configs

const config: FuzzTarget = {
  name: 'config',
  codes: ['INVALID_CONFIG', 'INVALID_ARGUMENT'],
  async seeds() {
    return [
      text(
        JSON.stringify({
          preset: 'atss-lacls',
          classes: ['knife', 'gun'],
          model: { backbone: { depth: 18, pretrained: null }, head: { la: 'cls' }, test: { scoreThreshold: 0.05 } },
          data: { imageScale: [1333, 800], mean: [1, 2, 3], std: [58, 57, 57], train: { annotations: 'train.json', images: 'img' } },
          train: { batchSize: 8, lrSteps: [8, 11], gradClipNorm: null },
          threads: 0,
        }),
      ),
    ];
  },
  inputs: jsonInputs,
  async run(bytes) {
    const file = scratchFile(bytes, 'config.json');
    const resolved = resolveConfig(file);
    expect(isDeepStrictEqual(resolveConfig(resolved), resolved), 'a resolved config resolves to itself');
  },
};

// ------------------------------------------------------------------ images (PNG, JPEG, 16-bit grey)

/** PNG with IHDR fields (width, height, bit depth, colour type) replaced and the chunk's CRC made valid again, so decoders read on. */
function withIhdr(png: Uint8Array, fields: { width?: number; height?: number; depth?: number; colour?: number }): Uint8Array {
  const out = Buffer.from(png);
  if (fields.width !== undefined) out.writeUInt32BE(fields.width >>> 0, 16);
  if (fields.height !== undefined) out.writeUInt32BE(fields.height >>> 0, 20);
  if (fields.depth !== undefined) out[24] = fields.depth;
  if (fields.colour !== undefined) out[25] = fields.colour;
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return new Uint8Array(out);
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const isPng = (b: Uint8Array) => b.length > 33 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;

function imageInputs(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const pngs = seeds.filter(isPng);
  const dims = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(0, 1, 65_535, 100_000, 2 ** 31 - 1, 2 ** 32 - 1));
  const header = fc
    .tuple(fc.constantFrom(...pngs), fc.record({ width: dims, height: dims, depth: fc.constantFrom(1, 2, 4, 8, 16, 3, 0, 255), colour: fc.constantFrom(0, 2, 3, 4, 6, 1, 7) }, { requiredKeys: [] }))
    .map(([png, fields]) => withIhdr(png, fields));
  return fc.oneof({ weight: 3, arbitrary: header }, { weight: 6, arbitrary: bytesOf(seeds) }, { weight: 1, arbitrary: fc.constantFrom(...seeds) });
}

const images: FuzzTarget = {
  name: 'images',
  codes: ['INVALID_IMAGE', 'IO_ERROR'],
  async seeds() {
    const pixels = Buffer.from(Array.from({ length: 24 * 16 * 3 }, (_, i) => (i * 37) % 256));
    const raw = { raw: { width: 24, height: 16, channels: 3 as const } };
    const grey16 = Buffer.from(new Uint16Array(Array.from({ length: 24 * 16 }, (_, i) => (i * 2654435761) % 65536)).buffer);
    return [
      new Uint8Array(await sharp(pixels, raw).png().toBuffer()),
      new Uint8Array(await sharp(pixels, raw).jpeg().toBuffer()),
      new Uint8Array(await sharp(grey16, { raw: { width: 24, height: 16, channels: 1 } }).toColourspace('grey16').png().toBuffer()),
    ];
  },
  inputs: imageInputs,
  async run(bytes) {
    // both decode paths: the RGB pipeline (PNG/JPEG/TIFF) and the dual-energy 16-bit reader
    const decoded = await settle(preprocess(bytes, { scale: [64, 64] }));
    const grey = await settle(readGrey16(scratchFile(bytes, 'scan.png')));
    if (!(decoded instanceof Error)) {
      const [n, c, h, w] = decoded.shape;
      const m = decoded.metas[0]!;
      expect(n === 1 && c === 3 && m.resizedWidth <= w! && m.resizedHeight <= h! && Math.max(m.resizedWidth, m.resizedHeight) <= 64, `shape ${decoded.shape}`);
      expect(decoded.data.every(Number.isFinite), 'finite pixels');
    }
    if (!(grey instanceof Error)) expect(grey.data.length === grey.width * grey.height, `${grey.data.length} pixels for ${grey.width}×${grey.height}`);
    // an 8-bit image is refused by the 16-bit reader by design: it loaded if either path took it
    if (decoded instanceof Error && grey instanceof Error) throw decoded;
  },
};

/** The value, or the LaxrayError it was refused with; anything else is thrown (a crash). */
async function settle<T>(p: Promise<T>): Promise<T | LaxrayError> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof LaxrayError) return err;
    throw err;
  }
}

export const targets: readonly FuzzTarget[] = [safetensors, coco, results, evalGroundTruth, opixray, config, images];
