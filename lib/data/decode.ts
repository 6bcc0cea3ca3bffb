// Decode + resize + (flip) + normalise of one image: the work a decode worker
// does (decode_worker.ts), also callable on the calling thread.
//
// Resampling: sharp / libvips `resize` with kernel 'linear' and fit 'fill'
// (bilinear interpolation when enlarging; when shrinking, libvips widens the
// triangle filter to the scale factor, i.e. an anti-aliased bilinear reduce,
// where OpenCV's INTER_LINEAR would alias). JPEG shrink-on-load is off so the
// result does not depend on the shrink factor. EXIF orientation is NOT applied:
// COCO boxes refer to the stored pixel grid. The flip is done while
// normalising (column x reads W − 1 − x), so flipped pixels are an exact mirror
// of the unflipped resized image and box flips x1' = W − x2 are exact.
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { normalizationTable, normalizeToCHW, resizedSize } from './transforms.js';
import { imageFileProblem } from './image_files.js';

export type ImageSource =
  | { kind: 'path'; path: string }
  | { kind: 'buffer'; data: Uint8Array }
  /** Interleaved 8-bit pixels, e.g. a sharp instance's raw output. */
  | { kind: 'raw'; data: Uint8Array; width: number; height: number; channels: 1 | 2 | 3 | 4 };

export interface DecodeRequest {
  source: ImageSource;
  /** See transforms.ts ResizeOptions. */
  scale: readonly [number, number];
  keepRatio: boolean;
  flip: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Size the dataset claims; a different size on disk is an error (its boxes would be in another frame). */
  expected?: { width: number; height: number };
  /**
   * Memory to write the result into when it is large enough (3·w·h floats);
   * the result's `data` is then a view on it. Reusing buffers matters: touching
   * fresh memory costs more than the normalisation itself on some machines.
   */
  output?: ArrayBuffer;
}

export interface DecodeResult {
  /** 3 × height × width, normalised, CHW. */
  data: Float32Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

/** An error of the decode step whose message is for the user as is (no stack needed). */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly kind: 'corrupt' | 'missing' | 'size-mismatch' | 'unsupported',
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

const lutCache = new Map<string, Float32Array>();
function lutFor(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(',')}/${std.join(',')}`;
  let lut = lutCache.get(key);
  if (!lut) lutCache.set(key, (lut = normalizationTable(mean, std)));
  return lut;
}

export async function decodeImage(request: DecodeRequest): Promise<DecodeResult> {
  const { source } = request;
  let image: Sharp;
  let originalWidth: number;
  let originalHeight: number;
  try {
    if (source.kind === 'raw') {
      image = sharp(source.data, { raw: { width: source.width, height: source.height, channels: source.channels } });
      originalWidth = source.width;
      originalHeight = source.height;
    } else {
      if (source.kind === 'path') {
        // before sharp opens it: a FIFO would block this decoder until someone writes to it
        const problem = await imageFileProblem(source.path);
        if (problem === 'not found') throw new DecodeError(`file not found (${source.path})`, 'missing');
        if (problem !== undefined) throw new DecodeError(`${source.path} ${problem}`, 'unsupported');
      }
      image = sharp(source.kind === 'path' ? source.path : source.data, { failOn: 'error' });
      const meta = await image.metadata();
      if (!meta.width || !meta.height) throw new DecodeError('the image has no width/height (not a raster image?)', 'unsupported');
      originalWidth = meta.width;
      originalHeight = meta.height;
    }
  } catch (err) {
    throw asDecodeError(err);
  }
  const expected = request.expected;
  if (expected && (expected.width !== originalWidth || expected.height !== originalHeight)) {
    throw new DecodeError(
      `the file is ${originalWidth}×${originalHeight} but the dataset says ${expected.width}×${expected.height}; fix "width"/"height" in the annotations (boxes refer to that size)`,
      'size-mismatch',
    );
  }
  const size = resizedSize(originalWidth, originalHeight, { scale: request.scale, keepRatio: request.keepRatio });
  let pixels: Buffer;
  let info: OutputInfo;
  try {
    ({ data: pixels, info } = await image
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw asDecodeError(err);
  }
  if (info.width !== size.width || info.height !== size.height || info.channels !== 3) {
    throw new DecodeError(`resize produced ${info.width}×${info.height}×${info.channels}, expected ${size.width}×${size.height}×3`, 'unsupported');
  }
  const floats = 3 * info.width * info.height;
  const out = request.output && request.output.byteLength >= 4 * floats ? new Float32Array(request.output, 0, floats) : new Float32Array(floats);
  const data = normalizeToCHW(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length), info.width, info.height, 3, {
    flip: request.flip,
    lut: lutFor(request.mean, request.std),
  }, out);
  return { data, width: info.width, height: info.height, originalWidth, originalHeight };
}

function asDecodeError(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err;
  // libvips repeats its warnings line by line; keep each once.
  const message = [...new Set((err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter(Boolean))].join('; ');
  if (/Input file is missing|no such file|ENOENT/i.test(message)) return new DecodeError(`file not found (${message})`, 'missing');
  if (/unsupported image format/i.test(message)) return new DecodeError(`not an image sharp can read (${message})`, 'unsupported');
  return new DecodeError(`cannot decode (corrupt or truncated?): ${message}`, 'corrupt');
}
