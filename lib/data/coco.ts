// COCO detection datasets: read, validate (every problem, with its ids), and
// turn into the Dataset the loader, trainer and evaluator use.
//
// Conventions: a COCO bbox is [x, y, w, h] with (x, y) the top-left corner in
// continuous pixel coordinates; the Dataset holds boxes as x1, y1, x2, y2 =
// x, y, x + w, y + h. Categories are sorted by id and numbered 0..C−1
// ("labels"); `labelToCategoryId` / `categoryIdToLabel` map both ways.
// Annotations with iscrowd = 1 or ignore = 1 are kept as ignore regions, never
// as training targets.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { previewJson } from '../json_preview.js';
import { imageFileProblem, linkOutsideRoot, realRoot } from './image_files.js';

/** What to do with a box of non-positive size or one that leaves its image. */
export type BoxPolicy = 'clip' | 'drop' | 'error';

export interface CocoLoadOptions {
  /** Folder the images' `file_name`s are relative to. Default: the JSON file's folder. */
  imageRoot?: string;
  /**
   * 'clip' (default): boxes reaching outside the image are clipped to it; boxes
   * with no area left (or none to begin with) are dropped. 'drop': both kinds are
   * dropped. 'error': both kinds are dataset errors. Every clip/drop is in the report.
   */
  boxPolicy?: BoxPolicy;
  /** Check that every image file exists, is a regular file and stays inside the image root (default true). */
  checkFiles?: boolean;
  /**
   * Read image files that are symlinks leading outside the image root
   * (default false: such a link is a dataset error, so a dataset cannot make
   * the trainer read files its author did not put under the root).
   */
  followSymlinks?: boolean;
  /** Keep each annotation's `segmentation` in `extra` (default false: it can be large). */
  keepSegmentation?: boolean;
  /**
   * Also read every image's header (sharp, in parallel) and check that it is
   * an image of the stated width × height (default false here; training does
   * it by default, config data.verifyImages). Catches unreadable files and
   * wrong sizes before training instead of during it.
   */
  verifyImages?: boolean;
}

export interface DatasetCategory {
  /** COCO category id. */
  id: number;
  name: string;
  supercategory?: string;
  /** Contiguous label 0..C−1 (index in Dataset.categories). */
  label: number;
}

/** The annotations of one image, as parallel arrays (K = number of annotations). */
export interface ImageAnnotations {
  /** COCO annotation ids. */
  ids: number[];
  /** K × 4: x1, y1, x2, y2 in original image pixels (after clipping, if any). */
  boxes: Float64Array;
  /** Contiguous labels 0..C−1. */
  labels: Int32Array;
  /** COCO category ids. */
  categoryIds: number[];
  /** 1 where iscrowd or ignore is set: an ignore region, not a training target. */
  ignore: Uint8Array;
  /** The annotation's `area` field (w · h of the original box when absent). */
  areas: Float64Array;
  /** Every other field of each annotation, e.g. { overlap: 0.31 } from the synthetic generator. */
  extra: Record<string, unknown>[];
}

export interface DatasetImage {
  id: number;
  /** `file_name` as written in the JSON. */
  fileName: string;
  /** Absolute path: imageRoot / fileName. */
  path: string;
  width: number;
  height: number;
  annotations: ImageAnnotations;
  /** Other fields of the image record (license, date_captured, ...). */
  extra: Record<string, unknown>;
}

export interface BoxChange {
  annotationId: number;
  imageId: number;
  /** COCO bbox [x, y, w, h] before and after clipping. */
  before: [number, number, number, number];
  after: [number, number, number, number];
}

export interface BoxDrop {
  annotationId: number;
  imageId: number;
  bbox: [number, number, number, number];
  reason: string;
}

export interface DatasetReport {
  images: number;
  /** Annotations kept (targets + ignore regions). */
  annotations: number;
  /** Of those, how many are ignore regions (iscrowd / ignore). */
  ignored: number;
  clipped: BoxChange[];
  dropped: BoxDrop[];
  /** Images with no annotation at all. */
  imagesWithoutAnnotations: number;
  /** Oddities that do not stop loading (duplicate file names, duplicate category names, ...). */
  warnings: string[];
}

export interface Dataset {
  /** The JSON file it came from, when it came from one. */
  source?: string;
  /** Folder image file names are relative to. */
  imageRoot: string;
  /** In the JSON's order. */
  images: DatasetImage[];
  /** Sorted by id; categories[label]. */
  categories: DatasetCategory[];
  numClasses: number;
  imageById: Map<number, DatasetImage>;
  categoryIdToLabel: Map<number, number>;
  /** labelToCategoryId[label] = COCO category id. */
  labelToCategoryId: number[];
  report: DatasetReport;
  /** The JSON's `info`, if any. */
  info?: unknown;
  /** true once every image header was read and matched its width × height (verifyImages / verifyDatasetImages). */
  imagesVerified?: boolean;
}

/** Reads and validates a COCO detection JSON file. Throws INVALID_DATASET listing every problem. */
export async function loadCocoDataset(jsonPath: string, options: CocoLoadOptions = {}): Promise<Dataset> {
  const file = path.resolve(jsonPath);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LaxrayError(
      'IO_ERROR',
      code === 'ENOENT' ? `COCO file ${file} does not exist; check the path` : `cannot read COCO file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const json = parseJsonText(text, file);
  return parseCocoDataset(json, { ...options, source: file, imageRoot: options.imageRoot ?? path.dirname(file) });
}

/**
 * JSON.parse with an error that names the file and the line:column (and byte
 * position) where parsing failed.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ').trim();
    const m = /position (\d+)/.exec(message);
    const pos = m ? Number(m[1]) : jsonErrorPosition(text);
    let where = '';
    if (pos !== undefined) {
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const column = pos - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column} (position ${pos})`;
    }
    throw new LaxrayError('INVALID_DATASET', `${file} is not valid JSON${where}: ${message}; fix the file (is it truncated?)`, {
      cause: err,
      details: [`${file}${where}: ${message}`],
    });
  }
}

/**
 * Offset of the first syntax error in `text` (a plain JSON grammar scan; V8's
 * messages do not always carry a position), or undefined if none is found.
 */
export function jsonErrorPosition(text: string): number | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  class Stop extends Error {}
  const fail = (): never => {
    throw new Stop();
  };
  let depth = 0;
  const value = (): void => {
    ws();
    if (text[i] !== '{' && text[i] !== '[') return scalarOrContainer();
    // past this the scan would overflow the stack; the message then goes without a position
    if (++depth > MAX_SCAN_DEPTH) throw new TooDeep();
    scalarOrContainer();
    depth--;
  };
  const scalarOrContainer = (): void => {
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (ch === '"') string();
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    } else {
      for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
      fail();
    }
  };
  const string = (): void => {
    i++;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') return void i++;
      if (ch === '\\') i += 2;
      else if (ch < ' ') fail();
      else i++;
    }
    fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (err) {
    if (err instanceof Stop) return Math.min(i, text.length);
    if (err instanceof TooDeep) return undefined;
    throw err;
  }
}

const MAX_SCAN_DEPTH = 2_000;
class TooDeep extends Error {}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const show = (v: unknown): string => previewJson(v, 60);

const ANNOTATION_FIELDS = new Set(['id', 'image_id', 'category_id', 'bbox', 'iscrowd', 'ignore', 'area', 'segmentation']);
const IMAGE_FIELDS = new Set(['id', 'file_name', 'width', 'height']);

/**
 * Validates an already-parsed COCO object. `imageRoot` (default: the current
 * folder) is where image files are looked for; `source` names the JSON in messages.
 */
export async function parseCocoDataset(json: unknown, options: CocoLoadOptions & { source?: string } = {}): Promise<Dataset> {
  const source = options.source;
  const label = source ?? 'COCO data';
  const imageRoot = path.resolve(options.imageRoot ?? '.');
  const policy: BoxPolicy = options.boxPolicy ?? 'clip';
  if (!['clip', 'drop', 'error'].includes(policy)) {
    throw new LaxrayError('INVALID_ARGUMENT', `boxPolicy must be 'clip', 'drop' or 'error', got ${show(policy)}`);
  }
  const problems: string[] = [];
  const warnings: string[] = [];

  if (!isObject(json)) {
    throw new LaxrayError('INVALID_DATASET', `${label}: the top level must be a JSON object with images, annotations and categories`, {
      details: [`top level is ${Array.isArray(json) ? 'an array' : typeof json}`],
    });
  }
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!(key in json)) problems.push(`missing top-level field "${key}" (an array)`);
    else if (!Array.isArray(json[key])) problems.push(`top-level field "${key}" must be an array, got ${typeof json[key]}`);
  }
  if (problems.length > 0) throw datasetError(label, problems);
  const rawImages = json.images as unknown[];
  const rawAnnotations = json.annotations as unknown[];
  const rawCategories = json.categories as unknown[];

  // --- categories
  const categoryById = new Map<number, { id: number; name: string; supercategory?: string }>();
  // Records with a valid id but other problems: references to them are not reported again.
  const badCategoryIds = new Set<number>();
  const badImageIds = new Set<number>();
  const categoryNames = new Map<string, number>();
  rawCategories.forEach((c, i) => {
    const where = `categories[${i}]`;
    if (!isObject(c)) return void problems.push(`${where}: must be an object, got ${show(c)}`);
    const id = c.id;
    const idText = isId(id) ? `${where} (id ${id})` : where;
    let ok = true;
    if (!('id' in c)) (ok = false), problems.push(`${where}: missing field "id" (an integer)`);
    else if (!isId(id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${show(id)}`);
    if (!('name' in c)) (ok = false), problems.push(`${idText}: missing field "name" (a string)`);
    else if (typeof c.name !== 'string' || c.name === '') (ok = false), problems.push(`${idText}: "name" must be a non-empty string, got ${show(c.name)}`);
    if (!ok) return void (isId(id) && badCategoryIds.add(id));
    const cid = id as number;
    if (categoryById.has(cid)) return void problems.push(`${where}: duplicate category id ${cid} (also used by an earlier category); category ids must be unique`);
    const name = c.name as string;
    if (categoryNames.has(name)) warnings.push(`category name "${name}" is used by ids ${categoryNames.get(name)} and ${cid}`);
    categoryNames.set(name, cid);
    categoryById.set(cid, { id: cid, name, ...(typeof c.supercategory === 'string' ? { supercategory: c.supercategory } : {}) });
  });
  if (rawCategories.length === 0) problems.push('"categories" is empty: a detection dataset needs at least one category');
  const categories: DatasetCategory[] = [...categoryById.values()].sort((a, b) => a.id - b.id).map((c, label) => ({ ...c, label }));
  const categoryIdToLabel = new Map(categories.map((c) => [c.id, c.label]));
  const labelToCategoryId = categories.map((c) => c.id);

  // --- images
  interface PendingImage {
    record: DatasetImage;
    index: number;
  }
  const imageById = new Map<number, PendingImage>();
  const fileNames = new Map<string, number>();
  const images: PendingImage[] = [];
  rawImages.forEach((im, i) => {
    const where = `images[${i}]`;
    if (!isObject(im)) return void problems.push(`${where}: must be an object, got ${show(im)}`);
    const idText = isId(im.id) ? `image id ${im.id} (${where})` : where;
    let ok = true;
    if (!('id' in im)) (ok = false), problems.push(`${where}: missing field "id" (an integer)`);
    else if (!isId(im.id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${show(im.id)}`);
    for (const key of ['width', 'height'] as const) {
      const v = im[key];
      if (!(key in im)) (ok = false), problems.push(`${idText}: missing field "${key}" (a positive integer)`);
      else if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) (ok = false), problems.push(`${idText}: "${key}" must be a positive integer, got ${show(v)}`);
    }
    if (!('file_name' in im)) (ok = false), problems.push(`${idText}: missing field "file_name" (a path relative to the image root)`);
    else if (typeof im.file_name !== 'string' || im.file_name === '') (ok = false), problems.push(`${idText}: "file_name" must be a non-empty string, got ${show(im.file_name)}`);
    else {
      const escape = escapesRoot(im.file_name);
      if (escape) (ok = false), problems.push(`${idText}: file_name ${show(im.file_name)} ${escape}; file names must be relative paths inside the image root`);
    }
    if (!ok) return void (isId(im.id) && badImageIds.add(im.id));
    const id = im.id as number;
    if (imageById.has(id)) {
      return void problems.push(`${where}: duplicate image id ${id} (also images[${imageById.get(id)!.index}]); image ids must be unique`);
    }
    const fileName = im.file_name as string;
    const normalized = path.normalize(fileName);
    if (fileNames.has(normalized)) warnings.push(`image ids ${fileNames.get(normalized)} and ${id} both use file ${fileName}`);
    fileNames.set(normalized, id);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(im)) if (!IMAGE_FIELDS.has(k)) extra[k] = v;
    const pending: PendingImage = {
      index: i,
      record: {
        id,
        fileName,
        path: path.join(imageRoot, fileName),
        width: im.width as number,
        height: im.height as number,
        annotations: emptyAnnotations(),
        extra,
      },
    };
    imageById.set(id, pending);
    images.push(pending);
  });

  // --- annotations
  interface Kept {
    id: number;
    box: [number, number, number, number];
    categoryId: number;
    ignore: boolean;
    area: number;
    extra: Record<string, unknown>;
  }
  const perImage = new Map<number, Kept[]>();
  const annotationIds = new Map<number, number>();
  const clipped: BoxChange[] = [];
  const dropped: BoxDrop[] = [];
  rawAnnotations.forEach((a, i) => {
    const where = `annotations[${i}]`;
    if (!isObject(a)) return void problems.push(`${where}: must be an object, got ${show(a)}`);
    const idText = isId(a.id) ? `annotation id ${a.id} (${where}${isId(a.image_id) ? `, image id ${a.image_id}` : ''})` : where;
    let ok = true;
    const need = (key: string, what: string): boolean => {
      if (!(key in a)) {
        ok = false;
        problems.push(`${idText}: missing field "${key}" (${what})`);
        return false;
      }
      return true;
    };
    if (need('id', 'an integer') && !isId(a.id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${show(a.id)}`);
    if (need('image_id', 'an integer')) {
      if (!isId(a.image_id)) (ok = false), problems.push(`${idText}: "image_id" must be an integer, got ${show(a.image_id)}`);
      else if (badImageIds.has(a.image_id)) ok = false;
      else if (!imageById.has(a.image_id)) (ok = false), problems.push(`${idText}: image_id ${a.image_id} is not an image of this dataset (no entry in "images")`);
    }
    if (need('category_id', 'an integer')) {
      if (!isId(a.category_id)) (ok = false), problems.push(`${idText}: "category_id" must be an integer, got ${show(a.category_id)}`);
      else if (badCategoryIds.has(a.category_id)) ok = false;
      else if (!categoryById.has(a.category_id)) {
        ok = false;
        problems.push(`${idText}: unknown category_id ${a.category_id}; known ids: ${labelToCategoryId.join(', ') || 'none'}`);
      }
    }
    if (need('bbox', '[x, y, width, height]')) {
      const b = a.bbox;
      if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        ok = false;
        problems.push(`${idText}: "bbox" must be 4 finite numbers [x, y, width, height], got ${show(b)}`);
      }
    }
    for (const flag of ['iscrowd', 'ignore'] as const) {
      const v = a[flag];
      if (v !== undefined && v !== 0 && v !== 1 && v !== true && v !== false) {
        ok = false;
        problems.push(`${idText}: "${flag}" must be 0 or 1, got ${show(v)}`);
      }
    }
    if (a.area !== undefined && !(typeof a.area === 'number' && Number.isFinite(a.area) && a.area >= 0)) {
      ok = false;
      problems.push(`${idText}: "area" must be a finite number ≥ 0, got ${show(a.area)}`);
    }
    if (!ok) return;
    const id = a.id as number;
    if (annotationIds.has(id)) return void problems.push(`${where}: duplicate annotation id ${id} (also annotations[${annotationIds.get(id)}]); annotation ids must be unique`);
    annotationIds.set(id, i);

    const image = imageById.get(a.image_id as number)!.record;
    const bbox = (a.bbox as number[]).slice() as [number, number, number, number];
    const [x, y, w, h] = bbox;
    let box: [number, number, number, number] = [x, y, x + w, y + h];
    const fix = `fix the annotation, or load with boxPolicy 'clip' or 'drop'`;
    if (!(w > 0 && h > 0)) {
      const reason = `bbox ${show(bbox)} has non-positive size (width ${w}, height ${h})`;
      if (policy === 'error') return void problems.push(`${idText}: ${reason}; ${fix}`);
      return void dropped.push({ annotationId: id, imageId: image.id, bbox, reason });
    }
    const outside = box[0] < 0 || box[1] < 0 || box[2] > image.width || box[3] > image.height;
    if (outside) {
      const reason = `bbox ${show(bbox)} reaches outside its ${image.width}×${image.height} image`;
      if (policy === 'error') return void problems.push(`${idText}: ${reason}; ${fix}`);
      if (policy === 'drop') return void dropped.push({ annotationId: id, imageId: image.id, bbox, reason });
      const c: [number, number, number, number] = [
        Math.min(Math.max(box[0], 0), image.width),
        Math.min(Math.max(box[1], 0), image.height),
        Math.min(Math.max(box[2], 0), image.width),
        Math.min(Math.max(box[3], 0), image.height),
      ];
      const after: [number, number, number, number] = [c[0], c[1], c[2] - c[0], c[3] - c[1]];
      if (!(after[2] > 0 && after[3] > 0)) {
        return void dropped.push({ annotationId: id, imageId: image.id, bbox, reason: `${reason}, nothing left inside it after clipping` });
      }
      clipped.push({ annotationId: id, imageId: image.id, before: bbox, after });
      box = c;
    }
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) if (!ANNOTATION_FIELDS.has(k) || (k === 'segmentation' && options.keepSegmentation)) extra[k] = v;
    const kept: Kept = {
      id,
      box,
      categoryId: a.category_id as number,
      ignore: a.iscrowd === 1 || a.iscrowd === true || a.ignore === 1 || a.ignore === true,
      area: typeof a.area === 'number' ? a.area : w * h,
      extra,
    };
    let list = perImage.get(image.id);
    if (!list) perImage.set(image.id, (list = []));
    list.push(kept);
  });

  // --- files on disk (only for images that are otherwise valid)
  if (options.checkFiles !== false && images.length > 0) {
    problems.push(...(await checkImageFiles(images.map((p) => p.record), imageRoot, options.followSymlinks === true)));
  }

  const verify = options.verifyImages === true && problems.length === 0;
  if (verify) problems.push(...(await verifyImageHeaders(images.map((p) => p.record))));

  if (problems.length > 0) throw datasetError(label, problems);

  let ignored = 0;
  let annotations = 0;
  let imagesWithoutAnnotations = 0;
  for (const { record } of images) {
    const list = perImage.get(record.id) ?? [];
    if (list.length === 0) imagesWithoutAnnotations++;
    const k = list.length;
    const ann: ImageAnnotations = {
      ids: list.map((x) => x.id),
      boxes: new Float64Array(4 * k),
      labels: new Int32Array(k),
      categoryIds: list.map((x) => x.categoryId),
      ignore: new Uint8Array(k),
      areas: new Float64Array(k),
      extra: list.map((x) => x.extra),
    };
    list.forEach((x, j) => {
      ann.boxes.set(x.box, 4 * j);
      ann.labels[j] = categoryIdToLabel.get(x.categoryId)!;
      ann.ignore[j] = x.ignore ? 1 : 0;
      ann.areas[j] = x.area;
      if (x.ignore) ignored++;
    });
    annotations += k;
    record.annotations = ann;
  }

  return {
    ...(source !== undefined ? { source } : {}),
    imageRoot,
    images: images.map((p) => p.record),
    categories,
    numClasses: categories.length,
    imageById: new Map(images.map((p) => [p.record.id, p.record])),
    categoryIdToLabel,
    labelToCategoryId,
    report: { images: images.length, annotations, ignored, clipped, dropped, imagesWithoutAnnotations, warnings },
    ...('info' in json ? { info: json.info } : {}),
    ...(verify ? { imagesVerified: true } : {}),
  };
}

/**
 * Reads every image's header (in parallel) and checks it is a readable image
 * of the stated size; throws INVALID_DATASET listing every bad file in
 * dataset order. Marks the dataset `imagesVerified`. The trainer runs this
 * before the first step (config data.verifyImages).
 */
export async function verifyDatasetImages(dataset: Dataset): Promise<void> {
  const problems = await verifyImageHeaders(dataset.images);
  if (problems.length > 0) throw datasetError(dataset.source ?? 'dataset', problems);
  dataset.imagesVerified = true;
}

/** A new Dataset holding only the given images (e.g. the challenging subset); categories are unchanged. */
export function subsetDataset(dataset: Dataset, imageIds: Iterable<number>): Dataset {
  const wanted = new Set(imageIds);
  const unknown = [...wanted].filter((id) => !dataset.imageById.has(id));
  if (unknown.length > 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `subset names ${unknown.length} image id(s) not in the dataset: ${unknown.slice(0, 20).join(', ')}`, {
      details: unknown.map((id) => `image id ${id} is not in the dataset`),
    });
  }
  const images = dataset.images.filter((im) => wanted.has(im.id));
  const annotations = images.reduce((n, im) => n + im.annotations.ids.length, 0);
  const ignored = images.reduce((n, im) => n + im.annotations.ignore.reduce((s, v) => s + v, 0), 0);
  return {
    ...dataset,
    images,
    imageById: new Map(images.map((im) => [im.id, im])),
    report: {
      ...dataset.report,
      images: images.length,
      annotations,
      ignored,
      clipped: dataset.report.clipped.filter((c) => wanted.has(c.imageId)),
      dropped: dataset.report.dropped.filter((d) => wanted.has(d.imageId)),
      imagesWithoutAnnotations: images.filter((im) => im.annotations.ids.length === 0).length,
    },
  };
}

/** One line summarising a report, e.g. for the CLI. */
export function describeReport(report: DatasetReport): string {
  return (
    `${report.images} images, ${report.annotations} annotations (${report.ignored} ignore regions), ` +
    `${report.clipped.length} boxes clipped, ${report.dropped.length} dropped, ${report.imagesWithoutAnnotations} images without annotations`
  );
}

function emptyAnnotations(): ImageAnnotations {
  return { ids: [], boxes: new Float64Array(0), labels: new Int32Array(0), categoryIds: [], ignore: new Uint8Array(0), areas: new Float64Array(0), extra: [] };
}

/** Why a file name would leave the image root, or undefined when it stays inside. */
export function escapesRoot(fileName: string): string | undefined {
  if (path.isAbsolute(fileName) || path.win32.isAbsolute(fileName)) return 'is an absolute path';
  if (fileName.includes('\0')) return 'contains a NUL byte';
  const normalized = path.posix.normalize(fileName.replaceAll('\\', '/'));
  if (normalized === '..' || normalized.startsWith('../')) return 'leaves the image root (../)';
  if (normalized === '.' || normalized.endsWith('/')) return 'names a folder, not a file';
  return undefined;
}

/** One problem per image file that is missing, not a regular file, or a link leading out of the root (dataset order). */
async function checkImageFiles(images: DatasetImage[], imageRoot: string, followSymlinks: boolean): Promise<string[]> {
  const root = followSymlinks ? '' : await realRoot(imageRoot);
  const problems: (string | undefined)[] = new Array(images.length);
  await forEachParallel(images, 64, async (im, i) => {
    const problem = await imageFileProblem(im.path);
    if (problem === 'not found') {
      problems[i] = `image id ${im.id}: file ${show(im.fileName)} not found at ${im.path}; check the image root (now ${imageRoot})`;
    } else if (problem !== undefined) {
      problems[i] = `image id ${im.id}: file ${show(im.fileName)} at ${im.path} ${problem}`;
    } else if (!followSymlinks) {
      const real = await linkOutsideRoot(im.path, root);
      if (real !== undefined) {
        problems[i] = `image id ${im.id}: file ${show(im.fileName)} is a link to ${real}, outside the image root ${root}; copy the file into the root, or load with followSymlinks: true`;
      }
    }
  });
  return problems.filter((p): p is string => p !== undefined);
}

/** Runs `fn` on every item with at most `limit` at once. */
async function forEachParallel<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function verifyImageHeaders(images: readonly DatasetImage[]): Promise<string[]> {
  const { default: sharp } = await import('sharp');
  const problems: (string | undefined)[] = new Array(images.length);
  await forEachParallel(images, 16, async (im, i) => {
    const notFile = await imageFileProblem(im.path);
    if (notFile !== undefined) return void (problems[i] = `image id ${im.id}: file ${im.fileName} ${notFile}`);
    try {
      const meta = await sharp(im.path, { failOn: 'error' }).metadata();
      if (meta.width !== im.width || meta.height !== im.height) {
        problems[i] = `image id ${im.id}: file ${im.fileName} is ${meta.width}×${meta.height} but the dataset says ${im.width}×${im.height}; fix "width"/"height" (boxes refer to them)`;
      }
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      problems[i] = `image id ${im.id}: file ${im.fileName} is not a readable image (${message}); replace or remove it`;
    }
  });
  return problems.filter((p): p is string => p !== undefined);
}

function datasetError(label: string, problems: string[]): LaxrayError {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, listed in details)` : '';
  return new LaxrayError('INVALID_DATASET', `${label}: ${problems.length} problem${problems.length > 1 ? 's' : ''} found: ${first}${more}`, {
    details: problems,
  });
}
