// Validation of the evaluation inputs: COCO ground truth, COCO results
// (detections) and image-id lists. Every problem is collected and reported in
// one LaxrayError whose message names the source, the index and the id.
import { LaxrayError } from '../errors.js';
import { previewJson } from '../json_preview.js';
import { Problems, isFiniteNumber } from './problems.js';
import type { IndexedDetections, IndexedGroundTruth, RawDetections } from './types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** 0/1/true/false (or absent → 0); anything else is reported and read as 0. */
function readFlag(v: unknown, where: string, field: string, problems: Problems): number {
  if (v === undefined || v === 0 || v === false || v === null) return 0;
  if (v === 1 || v === true) return 1;
  problems.add(`bad ${field}`, `${where}: "${field}" must be 0, 1, true or false, got ${previewJson(v)}`);
  return 0;
}

function readBox(v: unknown, where: string, problems: Problems, out: Float64Array, at: number): boolean {
  // A negative width or height is kept: pycocotools evaluates such a box (it overlaps nothing).
  if (!Array.isArray(v) || v.length !== 4) {
    problems.add(
      'bad bbox',
      `${where}: "bbox" must be [x, y, width, height] (4 numbers), got ${v === undefined ? 'nothing' : previewJson(v)}`,
    );
    return false;
  }
  const [x, y, w, h] = v as unknown[];
  if (!isFiniteNumber(x) || !isFiniteNumber(y) || !isFiniteNumber(w) || !isFiniteNumber(h)) {
    problems.add('bad bbox', `${where}: "bbox" must hold 4 finite numbers, got ${previewJson(v)}`);
    return false;
  }
  out[4 * at] = x;
  out[4 * at + 1] = y;
  out[4 * at + 2] = w;
  out[4 * at + 3] = h;
  return true;
}

export interface GroundTruthOptions {
  /** Name used in messages (a file path or "ground truth"). */
  source?: string;
}

/**
 * Checks a COCO ground-truth object and indexes it for evaluation. Throws
 * INVALID_DATASET listing every problem: missing or non-numeric fields,
 * duplicate ids, annotations naming unknown images or categories, bad boxes.
 */
export function indexGroundTruth(json: unknown, options: GroundTruthOptions = {}): IndexedGroundTruth {
  const source = options.source ?? 'ground truth';
  const problems = new Problems();
  if (!isObject(json)) {
    throw new LaxrayError(
      'INVALID_DATASET',
      `${source}: a COCO ground truth must be a JSON object with "images", "annotations" and "categories" arrays, got ${Array.isArray(json) ? 'an array (is this a results file?)' : previewJson(json)}`,
    );
  }
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(json[key])) {
      problems.add('missing array', `"${key}" must be an array, got ${json[key] === undefined ? 'nothing' : previewJson(json[key])}`);
    }
  }
  problems.throwIfAny('INVALID_DATASET', source, 'Is this a COCO detection ground-truth file?');
  const images = json.images as unknown[];
  const annotations = json.annotations as unknown[];
  const categories = json.categories as unknown[];

  const warnings: string[] = [];
  const repeatedImages: number[] = [];
  // Images: finite ids, evaluated in ascending id order.
  const imageIdList: number[] = [];
  const seenImages = new Map<number, number>();
  images.forEach((img, i) => {
    const where = `images[${i}]`;
    if (!isObject(img)) return problems.add('bad image', `${where}: must be an object, got ${previewJson(img)}`);
    if (!isFiniteNumber(img.id)) return problems.add('bad image id', `${where}: "id" must be a finite number, got ${previewJson(img.id)}`);
    const first = seenImages.get(img.id);
    // pycocotools keys images by id, so repeated entries collapse into one image; do the same, say so.
    if (first !== undefined) return void repeatedImages.push(img.id);
    seenImages.set(img.id, i);
    imageIdList.push(img.id);
  });
  if (repeatedImages.length > 0) {
    const ids = [...new Set(repeatedImages)];
    warnings.push(
      `${source}: ${ids.length} image id${ids.length === 1 ? ' appears' : 's appear'} more than once in "images" (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''}); repeated entries are treated as one image, as pycocotools does`,
    );
  }
  const imageIds = Float64Array.from(imageIdList).sort();
  const imageIndex = new Map<number, number>();
  imageIds.forEach((id, i) => imageIndex.set(id, i));

  // Categories: unique finite ids, sorted by id (pycocotools: sorted(getCatIds())).
  const cats: { id: number; name: string }[] = [];
  const seenCats = new Map<number, number>();
  categories.forEach((cat, i) => {
    const where = `categories[${i}]`;
    if (!isObject(cat)) return problems.add('bad category', `${where}: must be an object, got ${previewJson(cat)}`);
    if (!isFiniteNumber(cat.id)) return problems.add('bad category id', `${where}: "id" must be a finite number, got ${previewJson(cat.id)}`);
    if (cat.name !== undefined && typeof cat.name !== 'string') {
      return problems.add('bad category name', `${where} (id ${cat.id}): "name" must be a string, got ${previewJson(cat.name)}`);
    }
    const name = cat.name ?? String(cat.id);
    const first = seenCats.get(cat.id);
    if (first !== undefined) {
      // pycocotools keys categories by id: the last entry's name wins.
      warnings.push(`${source}: ${where}: category id ${cat.id} repeats categories[${first}]; treated as one category named "${name}", as pycocotools does`);
      cats.find((c) => c.id === cat.id)!.name = name;
      return;
    }
    seenCats.set(cat.id, i);
    cats.push({ id: cat.id, name });
  });
  cats.sort((a, b) => a.id - b.id);
  const categoryIds = Float64Array.from(cats.map((c) => c.id));
  const categoryNames = cats.map((c) => c.name);
  const categoryIndex = new Map<number, number>();
  categoryIds.forEach((id, i) => categoryIndex.set(id, i));

  // Annotations.
  const n = annotations.length;
  const annId = new Float64Array(n);
  const annImage = new Int32Array(n);
  const annCategory = new Int32Array(n);
  const annBox = new Float64Array(4 * n);
  const annArea = new Float64Array(n);
  const annCrowd = new Uint8Array(n);
  const annIgnoreField = new Uint8Array(n);
  const seenAnns = new Map<number, number>();
  const unknownImages = new Map<number, number[]>();
  const unknownCats = new Map<number, number[]>();
  const negativeBoxes: number[] = [];
  for (let i = 0; i < n; i++) {
    const ann = annotations[i];
    let where = `annotations[${i}]`;
    if (!isObject(ann)) {
      problems.add('bad annotation', `${where}: must be an object, got ${previewJson(ann)}`);
      continue;
    }
    if (!isFiniteNumber(ann.id)) {
      problems.add('bad annotation id', `${where}: "id" must be a finite number, got ${previewJson(ann.id)}`);
    } else {
      where = `${where} (id ${ann.id})`;
      const first = seenAnns.get(ann.id);
      if (first !== undefined) {
        problems.add(
          'duplicate annotation id',
          `${where}: annotation id ${ann.id} is also the id of annotations[${first}]; annotation ids must be unique (pycocotools would silently evaluate one of them twice)`,
        );
      } else seenAnns.set(ann.id, i);
      annId[i] = ann.id;
    }
    if (!isFiniteNumber(ann.image_id)) {
      problems.add('bad image_id', `${where}: "image_id" must be a finite number, got ${previewJson(ann.image_id)}`);
    } else {
      const idx = imageIndex.get(ann.image_id);
      if (idx === undefined) {
        const list = unknownImages.get(ann.image_id) ?? [];
        list.push(i);
        unknownImages.set(ann.image_id, list);
      } else annImage[i] = idx;
    }
    if (!isFiniteNumber(ann.category_id)) {
      problems.add('bad category_id', `${where}: "category_id" must be a finite number, got ${previewJson(ann.category_id)}`);
    } else {
      const idx = categoryIndex.get(ann.category_id);
      if (idx === undefined) {
        const list = unknownCats.get(ann.category_id) ?? [];
        list.push(i);
        unknownCats.set(ann.category_id, list);
      } else annCategory[i] = idx;
    }
    if (readBox(ann.bbox, where, problems, annBox, i) && (annBox[4 * i + 2]! < 0 || annBox[4 * i + 3]! < 0)) negativeBoxes.push(i);
    if (!isFiniteNumber(ann.area) || ann.area < 0) {
      problems.add(
        'bad area',
        `${where}: "area" must be a finite number ≥ 0, got ${ann.area === undefined ? 'nothing' : previewJson(ann.area)}; pycocotools uses it for the small/medium/large ranges (for box-only datasets set it to width·height)`,
      );
    } else annArea[i] = ann.area;
    annCrowd[i] = readFlag(ann.iscrowd, where, 'iscrowd', problems);
    annIgnoreField[i] = readFlag(ann.ignore, where, 'ignore', problems);
  }
  for (const [id, where] of unknownImages) {
    problems.add('unknown image', `image_id ${id} is used by ${describeIndices('annotations', where)} but is not in "images"`);
  }
  const known = Array.from(categoryIds).join(', ');
  for (const [id, where] of unknownCats) {
    problems.add('unknown category', `category_id ${id} is used by ${describeIndices('annotations', where)} but is not in "categories" (known: ${known})`);
  }
  problems.throwIfAny('INVALID_DATASET', source, 'Fix the ground truth (every problem is listed) and run again.');
  if (negativeBoxes.length > 0) {
    const n1 = negativeBoxes.length;
    warnings.push(
      `${source}: ${n1} annotation${n1 === 1 ? ' has' : 's have'} a bbox with negative width or height (${describeIndices('annotations', negativeBoxes)}); such a box overlaps nothing (COCO boxes are [x, y, width, height])`,
    );
  }
  return { source, imageIds, imageIndex, categoryIds, categoryNames, categoryIndex, count: n, annId, annImage, annCategory, annBox, annArea, annCrowd, annIgnoreField, warnings };
}

/** "annotations[2]", or "7 annotations: annotations[2], annotations[5], annotations[9], ..." */
function describeIndices(what: string, indices: number[]): string {
  const shown = indices.slice(0, 3).map((i) => `${what}[${i}]`).join(', ');
  return indices.length > 3 ? `${indices.length} ${what}: ${shown}, ...` : shown;
}

export interface DetectionsOptions {
  /** Name used in messages (a file path or "detections"). */
  source?: string;
}

/**
 * Reads a COCO results array ([{image_id, category_id, bbox, score}, ...])
 * into columns, checking its shape: every entry an object with numeric
 * image_id, category_id and score and a 4-number bbox. Values are checked
 * against the ground truth by `indexDetections`.
 */
export function detectionsFromJson(json: unknown, options: DetectionsOptions = {}): RawDetections {
  const source = options.source ?? 'detections';
  if (!Array.isArray(json)) {
    const hint = isObject(json) && Array.isArray(json.annotations) ? ' (this looks like a COCO dataset; pass the results array, as written by a detector)' : '';
    throw new LaxrayError(
      'INVALID_DETECTIONS',
      `${source}: COCO results must be a JSON array of {"image_id", "category_id", "bbox", "score"} objects, got ${previewJson(json)}${hint}`,
    );
  }
  const n = json.length;
  const problems = new Problems();
  const imageId = new Float64Array(n);
  const categoryId = new Float64Array(n);
  const box = new Float64Array(4 * n);
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = json[i] as unknown;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) {
      problems.add('bad detection', `detections[${i}]: must be an object, got ${previewJson(d)}`);
      continue;
    }
    const o = d as Record<string, unknown>;
    const im = o.image_id;
    const c = o.category_id;
    const s = o.score;
    const b = o.bbox;
    // Fast path: the common well-formed entry. (Non-finite values are caught in indexDetections.)
    if (typeof im === 'number' && typeof c === 'number' && typeof s === 'number' && Array.isArray(b) && b.length === 4 &&
        typeof b[0] === 'number' && typeof b[1] === 'number' && typeof b[2] === 'number' && typeof b[3] === 'number') {
      imageId[i] = im;
      categoryId[i] = c;
      score[i] = s;
      box[4 * i] = b[0];
      box[4 * i + 1] = b[1];
      box[4 * i + 2] = b[2];
      box[4 * i + 3] = b[3];
      continue;
    }
    const where = `detections[${i}]`;
    for (const [field, v] of [['image_id', im], ['category_id', c], ['score', s]] as const) {
      if (typeof v !== 'number') problems.add(`bad ${field}`, `${where}: "${field}" must be a number, got ${v === undefined ? 'nothing' : previewJson(v)}`);
    }
    if (!Array.isArray(b) || b.length !== 4 || b.some((x) => typeof x !== 'number')) {
      problems.add('bad bbox', `${where}: "bbox" must be [x, y, width, height] (4 numbers), got ${b === undefined ? 'nothing' : previewJson(b)}`);
    }
  }
  problems.throwIfAny('INVALID_DETECTIONS', source, 'Each result needs "image_id", "category_id", "bbox" [x, y, width, height] and "score".');
  return { count: n, imageId, categoryId, box, score };
}

/**
 * Checks detections against the ground truth: finite numbers, non-negative
 * box sizes, and image / category ids that exist in the ground truth (unknown
 * ones are listed with how many detections use them). Throws INVALID_DETECTIONS.
 */
export function indexDetections(raw: RawDetections, gt: IndexedGroundTruth, options: DetectionsOptions = {}): IndexedDetections {
  const source = options.source ?? 'detections';
  const n = raw.count;
  const problems = new Problems();
  const image = new Int32Array(n);
  const category = new Int32Array(n);
  const { imageId, categoryId, box, score } = raw;
  const unknownImages = new Map<number, number[]>();
  const unknownCats = new Map<number, number[]>();
  const imageIndex = gt.imageIndex;
  const categoryIndex = gt.categoryIndex;
  const negativeBoxes: number[] = [];
  let lastImageId = NaN;
  let lastImage = -1;
  for (let i = 0; i < n; i++) {
    const im = imageId[i]!;
    let ii: number | undefined;
    if (im === lastImageId) ii = lastImage;
    else {
      ii = imageIndex.get(im);
      if (ii !== undefined) {
        lastImageId = im;
        lastImage = ii;
      }
    }
    if (ii === undefined) {
      if (!Number.isFinite(im)) problems.add('bad image_id', `detections[${i}]: "image_id" must be finite, got ${im}`);
      else {
        const list = unknownImages.get(im);
        if (list) list.push(i);
        else unknownImages.set(im, [i]);
      }
    } else image[i] = ii;
    const ci = categoryIndex.get(categoryId[i]!);
    if (ci === undefined) {
      const c = categoryId[i]!;
      if (!Number.isFinite(c)) problems.add('bad category_id', `detections[${i}]: "category_id" must be finite, got ${c}`);
      else {
        const list = unknownCats.get(c);
        if (list) list.push(i);
        else unknownCats.set(c, [i]);
      }
    } else category[i] = ci;
    const s = score[i]!;
    if (!Number.isFinite(s)) problems.add('bad score', `detections[${i}] (image ${im}): "score" must be a finite number, got ${s}`);
    const x = box[4 * i]!;
    const y = box[4 * i + 1]!;
    const w = box[4 * i + 2]!;
    const h = box[4 * i + 3]!;
    // One comparison chain catches NaN, ±Infinity and negative sizes.
    if (!(w >= 0 && h >= 0 && w < Infinity && h < Infinity && Number.isFinite(x) && Number.isFinite(y))) {
      if (Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(w) && Number.isFinite(h)) {
        // Kept, as pycocotools keeps it: it overlaps nothing but still takes a place among the image's top 100.
        negativeBoxes.push(i);
      } else problems.add('bad bbox', `detections[${i}] (image ${im}): "bbox" [${x}, ${y}, ${w}, ${h}] must hold 4 finite numbers`);
    }
  }
  for (const [id, where] of unknownImages) {
    problems.add('unknown image', `image_id ${id} is not an image of ${gt.source} (used by ${describeIndices('detections', where)})`);
  }
  const known = Array.from(gt.categoryIds).join(', ');
  for (const [id, where] of unknownCats) {
    problems.add('unknown category', `category_id ${id} is not a category of ${gt.source} (known: ${known}; used by ${describeIndices('detections', where)})`);
  }
  problems.throwIfAny(
    'INVALID_DETECTIONS',
    source,
    unknownImages.size + unknownCats.size > 0
      ? 'Detections must name images and categories of the ground truth they are evaluated against: check that both files belong together (and that category ids were not shifted to contiguous labels). To score part of the images, give the full ground truth and the image ids (imageIds / --image-ids).'
      : 'Fix the detections (every problem is listed) and run again.',
  );
  const warnings: string[] = [];
  if (negativeBoxes.length > 0) {
    const n1 = negativeBoxes.length;
    warnings.push(
      `${source}: ${n1} detection${n1 === 1 ? ' has' : 's have'} a bbox with negative width or height (${describeIndices('detections', negativeBoxes)}); evaluated as pycocotools does (it matches nothing). COCO results use [x, y, width, height], not [x1, y1, x2, y2]`,
    );
  }
  return { source, count: n, image, category, box, score, warnings };
}

/**
 * Resolves a list of image ids (the challenging subset, say) to sorted, unique
 * image indices of the ground truth. Accepts an array of ids, an object with
 * an "image_ids"/"imageIds" array, or a COCO file whose "images" are the subset.
 */
export function resolveImageIds(json: unknown, gt: IndexedGroundTruth, source = 'image ids'): Int32Array {
  let ids: unknown[] | undefined;
  if (Array.isArray(json)) ids = json;
  else if (isObject(json)) {
    if (Array.isArray(json.image_ids)) ids = json.image_ids;
    else if (Array.isArray(json.imageIds)) ids = json.imageIds;
    else if (Array.isArray(json.images)) ids = json.images.map((img) => (isObject(img) ? img.id : img));
  }
  if (ids === undefined) {
    throw new LaxrayError(
      'INVALID_ARGUMENT',
      `${source}: expected a JSON array of image ids (or {"image_ids": [...]}, or a COCO file whose "images" form the subset), got ${previewJson(json)}`,
    );
  }
  if (ids.length === 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `${source}: the image id list is empty; give at least one image id of ${gt.source}`);
  }
  const problems = new Problems();
  const unknown: number[] = [];
  const picked = new Set<number>();
  ids.forEach((id, i) => {
    if (!isFiniteNumber(id)) return problems.add('bad id', `[${i}]: image ids must be finite numbers, got ${previewJson(id)}`);
    const idx = gt.imageIndex.get(id);
    if (idx === undefined) unknown.push(id);
    else picked.add(idx);
  });
  if (unknown.length > 0) {
    problems.add('unknown image', `${unknown.length} image id${unknown.length === 1 ? ' is' : 's are'} not in ${gt.source}: ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ', ...' : ''}`);
  }
  problems.throwIfAny('INVALID_ARGUMENT', source, `Give ids of images of ${gt.source}.`);
  return Int32Array.from(picked).sort();
}
