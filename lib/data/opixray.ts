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
import { writeFileAtomic } from '../atomic_file.js';
import { escapesRoot, type Box, type BoxPolicy } from './coco.js';
import { OPIXRAY_CLASSES } from '../opixray_classes.js';

export { OPIXRAY_CLASSES };

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
  const settings = resolveOptions(options);
  const { imagesDir, annotationsDir } = settings;
  const imageNames = (await listDir(imagesDir, 'images folder')).filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase())).sort();
  const txtFiles = (await listDir(annotationsDir, 'annotations folder')).filter((f) => f.toLowerCase().endsWith('.txt')).sort();
  const found = new Findings(settings.strict);
  const selected = options.imageList ? selectImages(imageNames, options.imageList, imagesDir, found) : imageNames;
  if (imageNames.length === 0) throw new LaxrayError('INVALID_DATASET', `no images (${[...IMAGE_EXTENSIONS].join(', ')}) in ${imagesDir}; check --images`);
  const sizes = await readImageSizes(imagesDir, selected, found);
  const lines = new AnnotationLines(settings, imageNames, selected, sizes, found);
  for (const txt of txtFiles) await lines.readFile(txt);
  found.throwIfProblems();
  const images = selected.filter((n) => sizes.has(n));
  return toCoco(settings, images, sizes, lines.objects, found);
}

interface Settings {
  imagesDir: string;
  annotationsDir: string;
  imageRoot: string;
  policy: BoxPolicy;
  strict: boolean;
}

function resolveOptions(options: OpixrayOptions): Settings {
  const imagesDir = path.resolve(options.imagesDir);
  const imageRoot = path.resolve(options.imageRoot ?? imagesDir);
  const policy = options.boxPolicy ?? 'clip';
  if (!['clip', 'drop', 'error'].includes(policy)) throw new LaxrayError('INVALID_ARGUMENT', `boxPolicy must be 'clip', 'drop' or 'error', got ${String(policy)}`);
  const relImages = path.relative(imageRoot, imagesDir);
  if (relImages !== '' && escapesRoot(relImages)) {
    throw new LaxrayError('INVALID_ARGUMENT', `imageRoot ${imageRoot} must contain the images folder ${imagesDir}`);
  }
  return { imagesDir, annotationsDir: path.resolve(options.annotationsDir), imageRoot, policy, strict: options.strict ?? true };
}

/** What the conversion found besides the objects: problems (fatal in strict mode), skipped lines, boxes changed, warnings. */
class Findings {
  readonly problems: string[] = [];
  readonly skipped: string[] = [];
  readonly warnings: string[] = [];
  readonly clipped: OpixrayReport['clipped'] = [];
  readonly dropped: OpixrayReport['dropped'] = [];

  constructor(private readonly strict: boolean) {}

  /** A bad line: a problem in strict mode, else skipped and listed. */
  badLine(message: string): void {
    (this.strict ? this.problems : this.skipped).push(message);
  }

  throwIfProblems(): void {
    const { problems } = this;
    if (problems.length === 0) return;
    throw new LaxrayError(
      'INVALID_DATASET',
      `OPIXray conversion found ${problems.length} problem${problems.length > 1 ? 's' : ''}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more, listed in details)` : ''}`,
      { details: problems },
    );
  }
}

/** The images an image list names; entries may be file names ("009000.jpg") or stems ("009000"), as OPIXray's test lists are. */
function selectImages(imageNames: readonly string[], imageList: readonly string[], imagesDir: string, found: Findings): string[] {
  const byKey = new Map<string, string>();
  for (const n of imageNames) {
    byKey.set(n, n);
    if (!byKey.has(path.parse(n).name)) byKey.set(path.parse(n).name, n);
  }
  const chosen = new Set<string>();
  for (const entry of imageList.map((e) => e.trim()).filter(Boolean)) {
    const name = byKey.get(entry);
    if (name) chosen.add(name);
    else found.problems.push(`the image list names ${entry}, which is not in ${imagesDir}`);
  }
  return imageNames.filter((n) => chosen.has(n));
}

/** Image sizes from the file headers, 16 at a time; an unreadable image is a problem. */
async function readImageSizes(imagesDir: string, names: readonly string[], found: Findings): Promise<Map<string, { width: number; height: number }>> {
  const sizes = new Map<string, { width: number; height: number }>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(16, names.length) }, async () => {
      while (next < names.length) {
        const name = names[next++]!;
        try {
          const meta = await sharp(path.join(imagesDir, name)).metadata();
          if (!meta.width || !meta.height) throw new Error('no width/height in the header');
          sizes.set(name, { width: meta.width, height: meta.height });
        } catch (err) {
          found.problems.push(`image ${path.join(imagesDir, name)} cannot be read: ${(err as Error).message.split('\n')[0]}; replace or remove it`);
        }
      }
    }),
  );
  return sizes;
}

interface OpixrayObject {
  image: string;
  classIndex: number;
  /** x1 y1 x2 y2 in pixels, inside the image. */
  box: Box;
  where: string;
}

const COORDINATE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const CLASS_INDEX = new Map<string, number>(OPIXRAY_CLASSES.map((c, i) => [c, i]));
const CLASS_BY_LOWER_CASE = new Map<string, string>(OPIXRAY_CLASSES.map((c) => [c.toLowerCase(), c]));

/** The annotation files' lines ("<image_name> <class_name> x1 y1 x2 y2") → objects. */
class AnnotationLines {
  readonly objects: OpixrayObject[] = [];
  private readonly wanted: Set<string>;
  private readonly allImages: Set<string>;
  /** Lines sometimes name another extension than the file has (009000.jpg for 009000.TIFF): match by stem when unique. */
  private readonly byStem = new Map<string, string | null>();

  constructor(
    private readonly settings: Settings,
    imageNames: readonly string[],
    selected: readonly string[],
    private readonly sizes: ReadonlyMap<string, { width: number; height: number }>,
    private readonly found: Findings,
  ) {
    this.wanted = new Set(selected);
    this.allImages = new Set(imageNames);
    for (const n of imageNames) {
      const stem = path.parse(n).name;
      this.byStem.set(stem, this.byStem.has(stem) ? null : n);
    }
  }

  async readFile(txt: string): Promise<void> {
    const file = path.join(this.settings.annotationsDir, txt);
    const text = await fsp.readFile(file, 'utf8').catch((err: Error) => {
      throw new LaxrayError('IO_ERROR', `cannot read ${file}: ${err.message}`, { cause: err });
    });
    text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, k) => {
      const line = raw.trim();
      if (line !== '') this.readLine(line, `${file}:${k + 1}`, path.parse(txt).name);
    });
  }

  private readLine(line: string, where: string, fileStem: string): void {
    const { found } = this;
    const fields = line.split(/\s+/);
    if (fields.length !== 6) return found.badLine(`${where}: expected "<image_name> <class_name> x1 y1 x2 y2" (6 fields), got ${fields.length}: ${JSON.stringify(line)}`);
    const [named, cls, ...nums] = fields as [string, string, string, string, string, string];
    const image = this.imageNamed(named, where);
    if (image === null || !this.wanted.has(image)) return;
    if (path.parse(image).name !== fileStem) found.warnings.push(`${where}: annotates ${image}, not ${fileStem}.*`);
    const classIndex = CLASS_INDEX.get(cls);
    if (classIndex === undefined) {
      const hint = CLASS_BY_LOWER_CASE.get(cls.toLowerCase());
      return found.badLine(`${where}: unknown class ${JSON.stringify(cls)}${hint ? ` (did you mean ${hint}?)` : ''}; OPIXray classes: ${OPIXRAY_CLASSES.join(', ')}`);
    }
    const values = nums.map(Number);
    const bad = nums.filter((s, i) => !COORDINATE.test(s) || !Number.isFinite(values[i]));
    if (bad.length > 0) return found.badLine(`${where}: box coordinates must be numbers, got ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
    const size = this.sizes.get(image);
    if (!size) return; // unreadable image: already a problem
    const box = this.boxInside(values as Box, size, where);
    if (box !== null) this.objects.push({ image, classIndex, box, where });
  }

  /** The image file a line names (or the only file with its stem); null (and a bad line) when there is none. */
  private imageNamed(named: string, where: string): string | null {
    if (this.allImages.has(named)) return named;
    const byName = this.byStem.get(path.parse(named).name);
    if (!byName) {
      this.found.badLine(`${where}: image ${named} is not in ${this.settings.imagesDir}`);
      return null;
    }
    this.found.warnings.push(`${where}: names ${named}; using ${byName}, the only file with that stem`);
    return byName;
  }

  /** The box under the box policy: as it is, clipped to the image, or null (dropped, or a problem). */
  private boxInside(box: Box, size: { width: number; height: number }, where: string): Box | null {
    const { policy } = this.settings;
    const { found } = this;
    const [x1, y1, x2, y2] = box;
    if (!(x2 > x1 && y2 > y1)) {
      const reason = `box ${x1} ${y1} ${x2} ${y2} has non-positive size (x2 must exceed x1 and y2 exceed y1)`;
      if (policy === 'error') found.problems.push(`${where}: ${reason}`);
      else found.dropped.push({ where, reason });
      return null;
    }
    if (x1 >= 0 && y1 >= 0 && x2 <= size.width && y2 <= size.height) return box;
    const reason = `box ${x1} ${y1} ${x2} ${y2} reaches outside its ${size.width}×${size.height} image`;
    if (policy !== 'clip') {
      if (policy === 'error') found.problems.push(`${where}: ${reason}`);
      else found.dropped.push({ where, reason });
      return null;
    }
    const c: Box = [clamp(x1, size.width), clamp(y1, size.height), clamp(x2, size.width), clamp(y2, size.height)];
    if (!(c[2] > c[0] && c[3] > c[1])) {
      found.dropped.push({ where, reason: `${reason}, nothing left inside it after clipping` });
      return null;
    }
    found.clipped.push({ where, before: cocoBox(box), after: cocoBox(c) });
    return c;
  }
}

/** x1 y1 x2 y2 → COCO's x y w h. */
function cocoBox(b: Box): Box {
  return [b[0], b[1], b[2] - b[0], b[3] - b[1]];
}

/** The COCO file and the report; annotation ids follow image order, then line order. */
function toCoco(settings: Settings, images: readonly string[], sizes: ReadonlyMap<string, { width: number; height: number }>, objects: OpixrayObject[], found: Findings): OpixrayResult {
  const { imagesDir, annotationsDir, imageRoot } = settings;
  const imageId = new Map(images.map((n, i) => [n, i + 1]));
  const coco: CocoJson = {
    info: { description: 'OPIXray, converted to COCO by laxray', source: { images: imagesDir, annotations: annotationsDir }, date_created: new Date().toISOString() },
    images: images.map((n) => ({ id: imageId.get(n)!, file_name: path.relative(imageRoot, path.join(imagesDir, n)).split(path.sep).join('/'), ...sizes.get(n)! })),
    annotations: [],
    categories: OPIXRAY_CLASSES.map((name, i) => ({ id: i + 1, name, supercategory: 'knife' })),
  };
  const perClass: Record<string, number> = Object.fromEntries(OPIXRAY_CLASSES.map((c) => [c, 0]));
  const annotated = new Set<string>();
  objects.sort((a, b) => imageId.get(a.image)! - imageId.get(b.image)!);
  for (const o of objects) {
    const bbox = cocoBox(o.box);
    coco.annotations.push({ id: coco.annotations.length + 1, image_id: imageId.get(o.image)!, category_id: o.classIndex + 1, bbox, area: bbox[2] * bbox[3], iscrowd: 0 });
    perClass[OPIXRAY_CLASSES[o.classIndex]!]!++;
    annotated.add(o.image);
  }
  const { clipped, dropped, skipped, warnings } = found;
  const report = { images: coco.images.length, annotations: coco.annotations.length, perClass, clipped, dropped, skipped, imagesWithoutAnnotations: images.filter((n) => !annotated.has(n)), warnings };
  return { coco, report };
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
