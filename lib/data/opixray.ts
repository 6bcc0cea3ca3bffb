// OPIXray → COCO. OPIXray ships one text file per image with one line per
// object:   <image_name> <class_name> x1 y1 x2 y2
// (corners in pixels, e.g. "009000.jpg Straight_Knife 200 104 379 227").
// The converter reads image sizes from the files (sharp, header only), checks
// every line (field count, class name, numbers, box inside its image), and
// writes a COCO detection JSON whose file_names are relative to the images
// folder. Categories: the five OPIXray classes, ids 1..5 in the dataset's order.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LaxrayError } from '../errors.js';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { escapesRoot, type BoxPolicy } from './coco.js';

export const OPIXRAY_CLASSES = ['Folding_Knife', 'Straight_Knife', 'Scissor', 'Utility_Knife', 'Multi-tool_Knife'] as const;

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp']);

export interface OpixrayOptions {
  /** Folder of the images (e.g. OPIXray/train/train_image). */
  imagesDir: string;
  /** Folder of the .txt annotation files (e.g. OPIXray/train/train_annotation). */
  annotationsDir: string;
  /** Folder the COCO file_names are relative to (default imagesDir); must contain imagesDir. */
  imageRoot?: string;
  /** Boxes leaving their image or with x2 ≤ x1 / y2 ≤ y1: 'clip' (default), 'drop' or 'error' (as loadCocoDataset). */
  boxPolicy?: BoxPolicy;
  /**
   * true (default): any problem (unknown class, bad numbers, unknown image,
   * unreadable image, policy 'error' boxes) fails the conversion, listing all of
   * them. false: such lines / images are left out and listed in the report.
   */
  strict?: boolean;
  /** Convert only these images, by file name or stem (e.g. the lines of OPIXray's test_knife-1.txt). */
  imageList?: readonly string[];
}

export interface CocoJson {
  info: Record<string, unknown>;
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: [number, number, number, number]; area: number; iscrowd: 0 }[];
  categories: { id: number; name: string; supercategory: string }[];
}

export interface OpixrayReport {
  images: number;
  annotations: number;
  /** Per class name, annotations written. */
  perClass: Record<string, number>;
  clipped: { where: string; before: [number, number, number, number]; after: [number, number, number, number] }[];
  dropped: { where: string; reason: string }[];
  /** Problems of lines / images left out (strict: false only; strict mode throws instead). */
  skipped: string[];
  /** Images with no annotation line. */
  imagesWithoutAnnotations: string[];
  warnings: string[];
}

export interface OpixrayResult {
  coco: CocoJson;
  report: OpixrayReport;
}

export async function convertOpixray(options: OpixrayOptions): Promise<OpixrayResult> {
  const imagesDir = path.resolve(options.imagesDir);
  const annotationsDir = path.resolve(options.annotationsDir);
  const imageRoot = path.resolve(options.imageRoot ?? imagesDir);
  const policy = options.boxPolicy ?? 'clip';
  const strict = options.strict ?? true;
  if (!['clip', 'drop', 'error'].includes(policy)) throw new LaxrayError('INVALID_ARGUMENT', `boxPolicy must be 'clip', 'drop' or 'error', got ${String(policy)}`);
  const relImages = path.relative(imageRoot, imagesDir);
  if (relImages !== '' && escapesRoot(relImages)) {
    throw new LaxrayError('INVALID_ARGUMENT', `imageRoot ${imageRoot} must contain the images folder ${imagesDir}`);
  }

  const imageNames = (await listDir(imagesDir, 'images folder')).filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase())).sort();
  const txtFiles = (await listDir(annotationsDir, 'annotations folder')).filter((f) => f.toLowerCase().endsWith('.txt')).sort();
  let selected = imageNames;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (options.imageList) {
    // Entries may be file names ("009000.jpg") or stems ("009000"), as OPIXray's test lists are.
    const byKey = new Map<string, string>();
    for (const n of imageNames) {
      byKey.set(n, n);
      if (!byKey.has(path.parse(n).name)) byKey.set(path.parse(n).name, n);
    }
    const chosen = new Set<string>();
    for (const entry of options.imageList.map((e) => e.trim()).filter(Boolean)) {
      const name = byKey.get(entry);
      if (name) chosen.add(name);
      else problems.push(`the image list names ${entry}, which is not in ${imagesDir}`);
    }
    selected = imageNames.filter((n) => chosen.has(n));
  }
  if (imageNames.length === 0) throw new LaxrayError('INVALID_DATASET', `no images (${[...IMAGE_EXTENSIONS].join(', ')}) in ${imagesDir}; check --images`);

  // Image sizes from the file headers, 16 at a time.
  const sizes = new Map<string, { width: number; height: number }>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(16, selected.length) }, async () => {
      while (next < selected.length) {
        const name = selected[next++]!;
        try {
          const meta = await sharp(path.join(imagesDir, name)).metadata();
          if (!meta.width || !meta.height) throw new Error('no width/height in the header');
          sizes.set(name, { width: meta.width, height: meta.height });
        } catch (err) {
          problems.push(`image ${path.join(imagesDir, name)} cannot be read: ${(err as Error).message.split('\n')[0]}; replace or remove it`);
        }
      }
    }),
  );

  const classIndex = new Map<string, number>(OPIXRAY_CLASSES.map((c, i) => [c, i]));
  const lowerClass = new Map<string, string>(OPIXRAY_CLASSES.map((c) => [c.toLowerCase(), c]));
  const wanted = new Set(selected);
  const allImages = new Set(imageNames);
  // Lines sometimes name another extension than the file has (009000.jpg for 009000.TIFF): match by stem when unique.
  const byStem = new Map<string, string | null>();
  for (const n of imageNames) {
    const stem = path.parse(n).name;
    byStem.set(stem, byStem.has(stem) ? null : n);
  }
  interface Obj {
    image: string;
    classIndex: number;
    box: [number, number, number, number];
    where: string;
  }
  const objects: Obj[] = [];
  const clipped: OpixrayReport['clipped'] = [];
  const dropped: OpixrayReport['dropped'] = [];
  const skipped: string[] = [];
  const lineProblem = (msg: string): void => {
    (strict ? problems : skipped).push(msg);
  };
  for (const txt of txtFiles) {
    const file = path.join(annotationsDir, txt);
    const text = await fsp.readFile(file, 'utf8').catch((err: Error) => {
      throw new LaxrayError('IO_ERROR', `cannot read ${file}: ${err.message}`, { cause: err });
    });
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
    lines.forEach((raw, k) => {
      const line = raw.trim();
      if (line === '') return;
      const where = `${file}:${k + 1}`;
      const fields = line.split(/\s+/);
      if (fields.length !== 6) return lineProblem(`${where}: expected "<image_name> <class_name> x1 y1 x2 y2" (6 fields), got ${fields.length}: ${JSON.stringify(line)}`);
      const [named, cls, ...nums] = fields as [string, string, string, string, string, string];
      let image = named;
      if (!allImages.has(named)) {
        const byName = byStem.get(path.parse(named).name);
        if (!byName) return lineProblem(`${where}: image ${named} is not in ${imagesDir}`);
        image = byName;
        warnings.push(`${where}: names ${named}; using ${image}, the only file with that stem`);
      }
      if (!wanted.has(image)) return;
      const stem = path.parse(txt).name;
      if (path.parse(image).name !== stem) warnings.push(`${where}: annotates ${image}, not ${stem}.*`);
      const ci = classIndex.get(cls);
      if (ci === undefined) {
        const hint = lowerClass.get(cls.toLowerCase());
        return lineProblem(`${where}: unknown class ${JSON.stringify(cls)}${hint ? ` (did you mean ${hint}?)` : ''}; OPIXray classes: ${OPIXRAY_CLASSES.join(', ')}`);
      }
      const values = nums.map(Number);
      const bad = nums.filter((s, i) => !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) || !Number.isFinite(values[i]));
      if (bad.length > 0) return lineProblem(`${where}: box coordinates must be numbers, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
      const size = sizes.get(image);
      if (!size) return; // unreadable image: already a problem
      let box = values as [number, number, number, number];
      const [x1, y1, x2, y2] = box;
      const coco = (b: readonly number[]): [number, number, number, number] => [b[0]!, b[1]!, b[2]! - b[0]!, b[3]! - b[1]!];
      if (!(x2 > x1 && y2 > y1)) {
        const reason = `box ${x1} ${y1} ${x2} ${y2} has non-positive size (x2 must exceed x1 and y2 exceed y1)`;
        if (policy === 'error') return void problems.push(`${where}: ${reason}`);
        return void dropped.push({ where, reason });
      }
      if (x1 < 0 || y1 < 0 || x2 > size.width || y2 > size.height) {
        const reason = `box ${x1} ${y1} ${x2} ${y2} reaches outside its ${size.width}×${size.height} image`;
        if (policy === 'error') return void problems.push(`${where}: ${reason}`);
        if (policy === 'drop') return void dropped.push({ where, reason });
        const c: [number, number, number, number] = [clamp(x1, size.width), clamp(y1, size.height), clamp(x2, size.width), clamp(y2, size.height)];
        if (!(c[2] > c[0] && c[3] > c[1])) return void dropped.push({ where, reason: `${reason}, nothing left inside it after clipping` });
        clipped.push({ where, before: coco(box), after: coco(c) });
        box = c;
      }
      objects.push({ image, classIndex: ci, box, where });
    });
  }
  if (problems.length > 0) {
    throw new LaxrayError(
      'INVALID_DATASET',
      `OPIXray conversion found ${problems.length} problem${problems.length > 1 ? 's' : ''}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more, listed in details)` : ''}`,
      { details: problems },
    );
  }

  const images = selected.filter((n) => sizes.has(n));
  const imageId = new Map(images.map((n, i) => [n, i + 1]));
  const coco: CocoJson = {
    info: { description: 'OPIXray, converted to COCO by laxray', source: { images: imagesDir, annotations: annotationsDir }, date_created: new Date().toISOString() },
    images: images.map((n) => ({ id: imageId.get(n)!, file_name: path.relative(imageRoot, path.join(imagesDir, n)).split(path.sep).join('/'), ...sizes.get(n)! })),
    annotations: [],
    categories: OPIXRAY_CLASSES.map((name, i) => ({ id: i + 1, name, supercategory: 'knife' })),
  };
  const perClass: Record<string, number> = Object.fromEntries(OPIXRAY_CLASSES.map((c) => [c, 0]));
  const annotated = new Set<string>();
  // Annotation ids follow image order, then line order.
  objects.sort((a, b) => imageId.get(a.image)! - imageId.get(b.image)!);
  for (const o of objects) {
    const [x1, y1, x2, y2] = o.box;
    const bbox: [number, number, number, number] = [x1, y1, x2 - x1, y2 - y1];
    coco.annotations.push({ id: coco.annotations.length + 1, image_id: imageId.get(o.image)!, category_id: o.classIndex + 1, bbox, area: bbox[2] * bbox[3], iscrowd: 0 });
    perClass[OPIXRAY_CLASSES[o.classIndex]!]!++;
    annotated.add(o.image);
  }
  return {
    coco,
    report: {
      images: coco.images.length,
      annotations: coco.annotations.length,
      perClass,
      clipped,
      dropped,
      skipped,
      imagesWithoutAnnotations: images.filter((n) => !annotated.has(n)),
      warnings,
    },
  };
}

/** convertOpixray, then writes the COCO JSON to `out` atomically (temp file + fsync + rename). */
export async function writeOpixrayCoco(options: OpixrayOptions & { out: string }): Promise<OpixrayResult> {
  const result = await convertOpixray(options);
  await writeFileAtomic(path.resolve(options.out), JSON.stringify(result.coco));
  return result;
}

function clamp(v: number, max: number): number {
  return Math.min(Math.max(v, 0), max);
}

async function listDir(dir: string, what: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LaxrayError('IO_ERROR', code === 'ENOENT' ? `${what} ${dir} does not exist` : `cannot list ${what} ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
