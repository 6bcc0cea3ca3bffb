// Image paths on disk: what a path is when it is not an image file (a folder,
// a FIFO, ...), and where it really leads (a symlink inside the image root may
// point anywhere). Used before any image is opened, so a FIFO never blocks a
// decoder and a link never reads a file outside the root unasked.
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';

/** "a folder", "a FIFO (named pipe)", ...: what a non-regular file is, in words. */
export function describeFileType(stats: Stats): string {
  if (stats.isFile()) return 'a file';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Why `file` cannot be read as an image file ("not found", "is a folder, not an image file"); undefined when it is a regular file. */
export async function imageFileProblem(file: string): Promise<string | undefined> {
  let stats: Stats;
  try {
    stats = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'not found';
    if (code === 'ELOOP') return 'is a symlink loop';
    if (code === 'EACCES') return 'cannot be read (permission denied)';
    return `cannot be read (${(err as Error).message})`;
  }
  return stats.isFile() ? undefined : `is ${describeFileType(stats)}, not an image file`;
}

/**
 * Where `file` (inside `root`) really leads when that is outside `realRoot`
 * (the root with its own links resolved); undefined when it stays inside or
 * cannot be resolved (the caller reports missing files on its own).
 */
export async function linkOutsideRoot(file: string, realRoot: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await fsp.realpath(file);
  } catch {
    return undefined;
  }
  const relative = path.relative(realRoot, real);
  return relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative) ? real : undefined;
}

/** The root with its links resolved (the root itself may be a link, e.g. /data -> /mnt/disk/data). */
export async function realRoot(root: string): Promise<string> {
  try {
    return await fsp.realpath(root);
  } catch {
    return path.resolve(root);
  }
}
