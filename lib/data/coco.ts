// COCO detection datasets: read, validate (every problem, with its ids), and
// turn into the Dataset the loader, trainer and evaluator use.
//
// Conventions: a COCO bbox is [x, y, w, h] with (x, y) the top-left corner in
// continuous pixel coordinates; the Dataset holds boxes as x1, y1, x2, y2 =
// x, y, x + w, y + h. Categories are sorted by id and numbered 0..C−1
// ("labels"); `labelToCategoryId` / `categoryIdToLabel` map both ways.
// Annotations with iscrowd = 1 or ignore = 1 are kept as ignore regions, never
// as training targets.
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { readJsonFile, type JsonFileKind } from '../json_file.js';
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
  const json = await readJsonFile(file, COCO_FILE);
  return parseCocoDataset(json, { ...options, source: file, imageRoot: options.imageRoot ?? path.dirname(file) });
}

/** A COCO JSON file, for read and syntax errors. */
export const COCO_FILE: JsonFileKind = { what: 'COCO dataset', code: 'INVALID_DATASET' };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

const ANNOTATION_FIELDS = new Set(['id', 'image_id', 'category_id', 'bbox', 'iscrowd', 'ignore', 'area', 'segmentation']);
const IMAGE_FIELDS = new Set(['id', 'file_name', 'width', 'height']);
const ANNOTATION_FIELDS_KEEPING_SEGMENTATION = new Set([...ANNOTATION_FIELDS].filter((k) => k !== 'segmentation'));

/**
 * Validates an already-parsed COCO object. `imageRoot` (default: the current
 * folder) is where image files are looked for; `source` names the JSON in messages.
 */
export async function parseCocoDataset(json: unknown, options: CocoLoadOptions & { source?: string } = {}): Promise<Dataset> {
  const source = options.source;
  const label = source ?? 'COCO data';
  const imageRoot = path.resolve(options.imageRoot ?? '.');
  const policy = checkBoxPolicy(options.boxPolicy ?? 'clip');
  const top = readTopLevel(json, label);
  const found: Findings = { problems: [], warnings: [] };
  const categories = readCategories(top.categories, found);
  const images = readImages(top.images, imageRoot, found);
  const annotations = readAnnotations(top.annotations, { categories, images, policy, keepSegmentation: options.keepSegmentation === true }, found);
  const problems = found.problems;

  // files on disk (only for images that are otherwise valid)
  const records = images.list.map((p) => p.record);
  if (options.checkFiles !== false && records.length > 0) {
    problems.push(...(await checkImageFiles(records, imageRoot, options.followSymlinks === true)));
  }
  const verify = options.verifyImages === true && problems.length === 0;
  if (verify) problems.push(...(await verifyImageHeaders(records)));
  if (problems.length > 0) throw datasetError(label, problems);

  const { annotations: kept, ignored, imagesWithoutAnnotations } = attachAnnotations(records, annotations.perImage, categories.categoryIdToLabel);
  const { clipped, dropped } = annotations;
  return {
    ...(source !== undefined ? { source } : {}),
    imageRoot,
    images: records,
    categories: categories.list,
    numClasses: categories.list.length,
    imageById: new Map(records.map((record) => [record.id, record])),
    categoryIdToLabel: categories.categoryIdToLabel,
    labelToCategoryId: categories.labelToCategoryId,
    report: { images: records.length, annotations: kept, ignored, clipped, dropped, imagesWithoutAnnotations, warnings: found.warnings },
    ...('info' in top.json ? { info: top.json.info } : {}),
    ...(verify ? { imagesVerified: true } : {}),
  };
}

/** What the checks found: problems stop loading, warnings go into the report. */
interface Findings {
  problems: string[];
  warnings: string[];
}

function checkBoxPolicy(policy: BoxPolicy): BoxPolicy {
  if (!['clip', 'drop', 'error'].includes(policy)) {
    throw new LaxrayError('INVALID_ARGUMENT', `boxPolicy must be 'clip', 'drop' or 'error', got ${previewJson(policy)}`);
  }
  return policy;
}

/** The three top-level arrays; INVALID_DATASET when the top level is not an object or one is missing. */
function readTopLevel(json: unknown, label: string): { json: Json; images: unknown[]; annotations: unknown[]; categories: unknown[] } {
  if (!isObject(json)) {
    throw new LaxrayError('INVALID_DATASET', `${label}: the top level must be a JSON object with images, annotations and categories`, {
      details: [`top level is ${Array.isArray(json) ? 'an array' : typeof json}`],
    });
  }
  const problems: string[] = [];
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!(key in json)) problems.push(`missing top-level field "${key}" (an array)`);
    else if (!Array.isArray(json[key])) problems.push(`top-level field "${key}" must be an array, got ${typeof json[key]}`);
  }
  if (problems.length > 0) throw datasetError(label, problems);
  return { json, images: json.images as unknown[], annotations: json.annotations as unknown[], categories: json.categories as unknown[] };
}

// ---------------------------------------------------------------- categories

type CategoryRecord = Omit<DatasetCategory, 'label'>;

interface Categories {
  byId: Map<number, CategoryRecord>;
  /** Records with a valid id but other problems: references to them are not reported again. */
  badIds: Set<number>;
  /** Sorted by id; list[label]. */
  list: DatasetCategory[];
  categoryIdToLabel: Map<number, number>;
  labelToCategoryId: number[];
}

function readCategories(raw: unknown[], found: Findings): Categories {
  const byId = new Map<number, CategoryRecord>();
  const badIds = new Set<number>();
  const names = new Map<string, number>();
  raw.forEach((c, i) => {
    const category = readCategory(c, `categories[${i}]`, found.problems, badIds);
    if (category === undefined) return;
    if (byId.has(category.id)) {
      return void found.problems.push(`categories[${i}]: duplicate category id ${category.id} (also used by an earlier category); category ids must be unique`);
    }
    if (names.has(category.name)) found.warnings.push(`category name "${category.name}" is used by ids ${names.get(category.name)} and ${category.id}`);
    names.set(category.name, category.id);
    byId.set(category.id, category);
  });
  if (raw.length === 0) found.problems.push('"categories" is empty: a detection dataset needs at least one category');
  const list: DatasetCategory[] = [...byId.values()].sort((a, b) => a.id - b.id).map((c, label) => ({ ...c, label }));
  return { byId, badIds, list, categoryIdToLabel: new Map(list.map((c) => [c.id, c.label])), labelToCategoryId: list.map((c) => c.id) };
}

/** One category record, or undefined after reporting its problems (a valid id of a bad record goes into `badIds`). */
function readCategory(c: unknown, where: string, problems: string[], badIds: Set<number>): CategoryRecord | undefined {
  if (!isObject(c)) return void problems.push(`${where}: must be an object, got ${previewJson(c)}`);
  const id = c.id;
  const idText = isId(id) ? `${where} (id ${id})` : where;
  let ok = true;
  if (!('id' in c)) (ok = false), problems.push(`${where}: missing field "id" (an integer)`);
  else if (!isId(id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${previewJson(id)}`);
  if (!('name' in c)) (ok = false), problems.push(`${idText}: missing field "name" (a string)`);
  else if (typeof c.name !== 'string' || c.name === '') (ok = false), problems.push(`${idText}: "name" must be a non-empty string, got ${previewJson(c.name)}`);
  if (!ok) return void (isId(id) && badIds.add(id));
  return { id: id as number, name: c.name as string, ...(typeof c.supercategory === 'string' ? { supercategory: c.supercategory } : {}) };
}

// ---------------------------------------------------------------- images

interface PendingImage {
  record: DatasetImage;
  index: number;
}

interface Images {
  byId: Map<number, PendingImage>;
  /** Records with a valid id but other problems: references to them are not reported again. */
  badIds: Set<number>;
  /** In the JSON's order. */
  list: PendingImage[];
}

function readImages(raw: unknown[], imageRoot: string, found: Findings): Images {
  const images: Images = { byId: new Map(), badIds: new Set(), list: [] };
  const fileNames = new Map<string, number>();
  raw.forEach((im, i) => {
    const where = `images[${i}]`;
    if (!checkImage(im, where, found.problems)) return void (isObject(im) && isId(im.id) && images.badIds.add(im.id));
    const id = im.id as number;
    const previous = images.byId.get(id);
    if (previous !== undefined) return void found.problems.push(`${where}: duplicate image id ${id} (also images[${previous.index}]); image ids must be unique`);
    const fileName = im.file_name as string;
    const normalized = path.normalize(fileName);
    if (fileNames.has(normalized)) found.warnings.push(`image ids ${fileNames.get(normalized)} and ${id} both use file ${fileName}`);
    fileNames.set(normalized, id);
    const pending: PendingImage = {
      index: i,
      record: {
        id,
        fileName,
        path: path.join(imageRoot, fileName),
        width: im.width as number,
        height: im.height as number,
        annotations: emptyAnnotations(),
        extra: fieldsOtherThan(im, IMAGE_FIELDS),
      },
    };
    images.byId.set(id, pending);
    images.list.push(pending);
  });
  return images;
}

/** true when `im` is an image record with a valid id, size and file name; reports every problem otherwise. */
function checkImage(im: unknown, where: string, problems: string[]): im is Json {
  if (!isObject(im)) {
    problems.push(`${where}: must be an object, got ${previewJson(im)}`);
    return false;
  }
  const idText = isId(im.id) ? `image id ${im.id} (${where})` : where;
  let ok = true;
  if (!('id' in im)) (ok = false), problems.push(`${where}: missing field "id" (an integer)`);
  else if (!isId(im.id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${previewJson(im.id)}`);
  for (const key of ['width', 'height'] as const) {
    const v = im[key];
    if (!(key in im)) (ok = false), problems.push(`${idText}: missing field "${key}" (a positive integer)`);
    else if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) (ok = false), problems.push(`${idText}: "${key}" must be a positive integer, got ${previewJson(v)}`);
  }
  if (!('file_name' in im)) (ok = false), problems.push(`${idText}: missing field "file_name" (a path relative to the image root)`);
  else if (typeof im.file_name !== 'string' || im.file_name === '') (ok = false), problems.push(`${idText}: "file_name" must be a non-empty string, got ${previewJson(im.file_name)}`);
  else {
    const escape = escapesRoot(im.file_name);
    if (escape) (ok = false), problems.push(`${idText}: file_name ${previewJson(im.file_name)} ${escape}; file names must be relative paths inside the image root`);
  }
  return ok;
}

// ---------------------------------------------------------------- annotations

/** x1, y1, x2, y2 in pixels. */
export type Box = [number, number, number, number];

interface KeptAnnotation {
  id: number;
  /** x1, y1, x2, y2 (after clipping, if any). */
  box: Box;
  categoryId: number;
  ignore: boolean;
  area: number;
  extra: Record<string, unknown>;
}

interface AnnotationContext {
  categories: Categories;
  images: Images;
  policy: BoxPolicy;
  keepSegmentation: boolean;
}

interface Annotations {
  /** By image id, in the JSON's order. */
  perImage: Map<number, KeptAnnotation[]>;
  clipped: BoxChange[];
  dropped: BoxDrop[];
}

function readAnnotations(raw: unknown[], context: AnnotationContext, found: Findings): Annotations {
  const out: Annotations = { perImage: new Map(), clipped: [], dropped: [] };
  const annotationIds = new Map<number, number>();
  raw.forEach((a, i) => {
    const where = `annotations[${i}]`;
    if (!isObject(a)) return void found.problems.push(`${where}: must be an object, got ${previewJson(a)}`);
    const idText = isId(a.id) ? `annotation id ${a.id} (${where}${isId(a.image_id) ? `, image id ${a.image_id}` : ''})` : where;
    if (!checkAnnotation(a, where, idText, context, found.problems)) return;
    const id = a.id as number;
    if (annotationIds.has(id)) {
      return void found.problems.push(`${where}: duplicate annotation id ${id} (also annotations[${annotationIds.get(id)}]); annotation ids must be unique`);
    }
    annotationIds.set(id, i);

    const image = context.images.byId.get(a.image_id as number)!.record;
    const bbox = (a.bbox as number[]).slice() as Box;
    const box = placeBox(bbox, image, id, idText, context.policy, out, found.problems);
    if (box === undefined) return;
    const [, , w, h] = bbox;
    const kept: KeptAnnotation = {
      id,
      box,
      categoryId: a.category_id as number,
      ignore: a.iscrowd === 1 || a.iscrowd === true || a.ignore === 1 || a.ignore === true,
      area: typeof a.area === 'number' ? a.area : w * h,
      extra: fieldsOtherThan(a, context.keepSegmentation ? ANNOTATION_FIELDS_KEEPING_SEGMENTATION : ANNOTATION_FIELDS),
    };
    let list = out.perImage.get(image.id);
    if (!list) out.perImage.set(image.id, (list = []));
    list.push(kept);
  });
  return out;
}

/** true when every field of annotation `a` is valid and refers to a valid image and category; reports every problem otherwise. */
function checkAnnotation(a: Json, where: string, idText: string, { categories, images }: AnnotationContext, problems: string[]): boolean {
  let ok = true;
  const need = (key: string, what: string): boolean => {
    if (!(key in a)) {
      ok = false;
      problems.push(`${idText}: missing field "${key}" (${what})`);
      return false;
    }
    return true;
  };
  if (need('id', 'an integer') && !isId(a.id)) (ok = false), problems.push(`${where}: "id" must be an integer, got ${previewJson(a.id)}`);
  if (need('image_id', 'an integer')) {
    if (!isId(a.image_id)) (ok = false), problems.push(`${idText}: "image_id" must be an integer, got ${previewJson(a.image_id)}`);
    else if (images.badIds.has(a.image_id)) ok = false;
    else if (!images.byId.has(a.image_id)) (ok = false), problems.push(`${idText}: image_id ${a.image_id} is not an image of this dataset (no entry in "images")`);
  }
  if (need('category_id', 'an integer')) {
    if (!isId(a.category_id)) (ok = false), problems.push(`${idText}: "category_id" must be an integer, got ${previewJson(a.category_id)}`);
    else if (categories.badIds.has(a.category_id)) ok = false;
    else if (!categories.byId.has(a.category_id)) {
      ok = false;
      problems.push(`${idText}: unknown category_id ${a.category_id}; known ids: ${categories.labelToCategoryId.join(', ') || 'none'}`);
    }
  }
  if (need('bbox', '[x, y, width, height]')) {
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      ok = false;
      problems.push(`${idText}: "bbox" must be 4 finite numbers [x, y, width, height], got ${previewJson(b)}`);
    }
  }
  for (const flag of ['iscrowd', 'ignore'] as const) {
    const v = a[flag];
    if (v !== undefined && v !== 0 && v !== 1 && v !== true && v !== false) {
      ok = false;
      problems.push(`${idText}: "${flag}" must be 0 or 1, got ${previewJson(v)}`);
    }
  }
  if (a.area !== undefined && !(typeof a.area === 'number' && Number.isFinite(a.area) && a.area >= 0)) {
    ok = false;
    problems.push(`${idText}: "area" must be a finite number ≥ 0, got ${previewJson(a.area)}`);
  }
  return ok;
}

/**
 * The x1, y1, x2, y2 box of COCO `bbox` in `image` under the box policy, or
 * undefined when it is dropped (recorded in `out.dropped`) or is a problem.
 * Clipping is recorded in `out.clipped`.
 */
function placeBox(bbox: Box, image: DatasetImage, annotationId: number, idText: string, policy: BoxPolicy, out: Annotations, problems: string[]): Box | undefined {
  const [x, y, w, h] = bbox;
  const box: Box = [x, y, x + w, y + h];
  const fix = `fix the annotation, or load with boxPolicy 'clip' or 'drop'`;
  const drop = (reason: string): undefined => void out.dropped.push({ annotationId, imageId: image.id, bbox, reason });
  if (!(w > 0 && h > 0)) {
    const reason = `bbox ${previewJson(bbox)} has non-positive size (width ${w}, height ${h})`;
    return policy === 'error' ? void problems.push(`${idText}: ${reason}; ${fix}`) : drop(reason);
  }
  const outside = box[0] < 0 || box[1] < 0 || box[2] > image.width || box[3] > image.height;
  if (!outside) return box;
  const reason = `bbox ${previewJson(bbox)} reaches outside its ${image.width}×${image.height} image`;
  if (policy === 'error') return void problems.push(`${idText}: ${reason}; ${fix}`);
  if (policy === 'drop') return drop(reason);
  const c: Box = [
    Math.min(Math.max(box[0], 0), image.width),
    Math.min(Math.max(box[1], 0), image.height),
    Math.min(Math.max(box[2], 0), image.width),
    Math.min(Math.max(box[3], 0), image.height),
  ];
  const after: Box = [c[0], c[1], c[2] - c[0], c[3] - c[1]];
  if (!(after[2] > 0 && after[3] > 0)) return drop(`${reason}, nothing left inside it after clipping`);
  out.clipped.push({ annotationId, imageId: image.id, before: bbox, after });
  return c;
}

/** Puts each image's kept annotations into its record, as parallel arrays; returns the report's counts. */
function attachAnnotations(
  images: readonly DatasetImage[],
  perImage: ReadonlyMap<number, readonly KeptAnnotation[]>,
  categoryIdToLabel: ReadonlyMap<number, number>,
): Pick<DatasetReport, 'annotations' | 'ignored' | 'imagesWithoutAnnotations'> {
  let ignored = 0;
  let annotations = 0;
  let imagesWithoutAnnotations = 0;
  for (const record of images) {
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
  return { annotations, ignored, imagesWithoutAnnotations };
}

/** The fields of `record` not in `known` (kept as `extra`). */
function fieldsOtherThan(record: Json, known: ReadonlySet<string>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (!known.has(k)) extra[k] = v;
  return extra;
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
      problems[i] = `image id ${im.id}: file ${previewJson(im.fileName)} not found at ${im.path}; check the image root (now ${imageRoot})`;
    } else if (problem !== undefined) {
      problems[i] = `image id ${im.id}: file ${previewJson(im.fileName)} at ${im.path} ${problem}`;
    } else if (!followSymlinks) {
      const real = await linkOutsideRoot(im.path, root);
      if (real !== undefined) {
        problems[i] = `image id ${im.id}: file ${previewJson(im.fileName)} is a link to ${real}, outside the image root ${root}; copy the file into the root, or load with followSymlinks: true`;
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
