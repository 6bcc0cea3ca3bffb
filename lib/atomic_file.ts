// Atomic file writes: write a temporary file next to the target, fsync it,
// rename it over the target, fsync the directory. A crash leaves either the
// old file or the new one, never a torn one — and, when the process was
// killed mid-write, a temp file `.<name>.<pid>.<random>.tmp`, which
// removeStaleTempFiles deletes once its writer is gone.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LaxrayError } from './errors.js';

/** Temp files this process is writing now: never stale. */
const inFlight = new Set<string>();

export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(path.resolve(target));
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  inFlight.add(temp);
  try {
    await fs.mkdir(dir, { recursive: true });
    handle = await fs.open(temp, 'w');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, target);
    const dirHandle = await fs.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOSPC' ? 'no space left on the device; free some space (or point the output elsewhere) and try again'
      : code === 'EDQUOT' ? 'the disk quota is exceeded; free some space and try again'
      : (err as Error).message;
    throw new LaxrayError('IO_ERROR', `could not write ${target}: ${why} (the previous file, if any, is intact)`, { cause: err });
  } finally {
    inFlight.delete(temp);
  }
}

/**
 * The process id in a temp file's name: writeFileAtomic's `.<name>.<pid>.<hex8>.tmp`
 * or the simpler `<name>.<pid>.tmp` some writers use; undefined for other names.
 */
export function tempFileWriter(name: string): number | undefined {
  const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name) ?? /^[^.].*\.(\d+)\.tmp$/.exec(name);
  if (m === null) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Deletes temp files left in `dir` (and its sub-folders, `depth` levels) by
 * writers that were killed: those whose process is gone, and this process's
 * own that it is not writing now. A live writer's temp file is never touched.
 * Returns the paths removed.
 */
export async function removeStaleTempFiles(dir: string, depth = 2): Promise<string[]> {
  const removed: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth > 0) removed.push(...(await removeStaleTempFiles(file, depth - 1)));
      continue;
    }
    if (!entry.isFile()) continue;
    const pid = tempFileWriter(entry.name);
    if (pid === undefined) continue;
    const stale = pid === process.pid ? !inFlight.has(file) : !isAlive(pid);
    if (!stale) continue;
    await fs.rm(file, { force: true });
    removed.push(file);
  }
  return removed;
}
