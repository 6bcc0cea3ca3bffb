// torch.save's zip archive (PyTorch >= 1.6): <prefix>/data.pkl (the pickle),
// <prefix>/data/<key> (one entry per storage, stored uncompressed), optional
// <prefix>/byteorder ('little' | 'big') and <prefix>/version. yauzl reads the
// central directory and the local headers; then only the entries asked for are
// read, at their offsets (random access; a large file is never read whole).
// Stored entries (what torch writes) are read with one positioned read each;
// compressed ones (a re-zipped file) through yauzl's inflating stream.
//
// Bounds against hostile archives: the number of entries, each entry's
// uncompressed size (checked before reading; yauzl enforces that inflated data
// matches it, which defeats zip bombs), and the CRC-32 of what was read.
import { promises as fs } from 'node:fs';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { LaxrayError } from '../../errors.js';
import { formatBytes } from './tensor.js';

export interface ZipLimits {
  maxEntries: number;
  /** Bytes of data.pkl. */
  maxPickleBytes: number;
  /** Bytes of one storage entry. */
  maxEntryBytes: number;
}

export interface TorchZip {
  /** The folder all entries live in (torch uses the file's base name, or 'archive'). */
  prefix: string;
  pickle: Uint8Array;
  littleEndian: boolean;
  /** The bytes of storage `key`; its entry must hold at least `minBytes`. */
  readStorage(key: string, minBytes: number): Promise<Uint8Array>;
  close(): void;
}

export async function openTorchZip(file: string, limits: ZipLimits, what: string): Promise<TorchZip> {
  const fail = (problem: string): never => {
    throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
  };
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false });
  } catch (err) {
    return fail(`not a readable zip archive (${(err as Error).message}); the file may be truncated or corrupt`);
  }
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const fileSize = (await handle.stat()).size;
    const entries = await listEntries(zip, limits, fail);
    const pickleEntries = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (pickleEntries.length !== 1) {
      fail(pickleEntries.length === 0 ? 'a zip archive without <name>/data.pkl: not a file written by torch.save' : `the archive holds ${pickleEntries.length} data.pkl files: not a file written by torch.save`);
    }
    const prefix = pickleEntries[0]!.slice(0, -'/data.pkl'.length);
    const source = { zip, handle, fileSize };
    const read = (name: string, maxBytes: number, minBytes = 0) => readEntry(source, entries.get(name)!, name, maxBytes, minBytes, fail);
    const pickle = await read(`${prefix}/data.pkl`, limits.maxPickleBytes);
    let littleEndian = true;
    if (entries.has(`${prefix}/byteorder`)) {
      const order = Buffer.from(await read(`${prefix}/byteorder`, 16)).toString('latin1');
      if (order !== 'little' && order !== 'big') fail(`byteorder entry says '${order.slice(0, 16)}', expected 'little' or 'big'`);
      littleEndian = order === 'little';
    }
    return {
      prefix,
      pickle,
      littleEndian,
      readStorage: async (key, minBytes) => {
        const name = `${prefix}/data/${key}`;
        if (!entries.has(name)) fail(`storage '${key}' has no entry ${name} in the archive (truncated or corrupt file)`);
        return read(name, limits.maxEntryBytes, minBytes);
      },
      close: async () => {
        zip.close();
        await source.handle.close();
      },
    };
  } catch (err) {
    zip.close();
    await handle?.close();
    throw err;
  }
}

async function listEntries(zip: yauzl.ZipFile, limits: ZipLimits, fail: (problem: string) => never): Promise<Map<string, yauzl.Entry>> {
  if (zip.entryCount > limits.maxEntries) fail(`the archive declares ${zip.entryCount} entries, more than the limit of ${limits.maxEntries}`);
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
  } catch (err) {
    fail(`the zip's central directory is unreadable (${(err as Error).message}); the file may be truncated or corrupt`);
  }
  return entries;
}

interface ZipSource {
  zip: yauzl.ZipFile;
  handle: fs.FileHandle;
  fileSize: number;
}

async function readEntry(
  { zip, handle, fileSize }: ZipSource,
  entry: yauzl.Entry,
  name: string,
  maxBytes: number,
  minBytes: number,
  fail: (problem: string) => never,
): Promise<Uint8Array> {
  const size = entry.uncompressedSize;
  if (size > maxBytes) fail(`entry ${name} is ${formatBytes(size)} uncompressed, more than the limit of ${formatBytes(maxBytes)}`);
  if (size < minBytes) fail(`entry ${name} holds ${size} bytes but the pickle declares ${minBytes} for it (truncated or corrupt file)`);
  if (entry.isEncrypted() || !entry.canDecodeFileData()) fail(`entry ${name} is encrypted or uses an unsupported compression method (${entry.compressionMethod})`);
  const out = Buffer.allocUnsafe(size);
  let filled = 0;
  try {
    if (entry.compressionMethod === 0) {
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      if (entry.compressedSize !== size) throw new Error(`a stored entry of ${entry.compressedSize} bytes that declares ${size} uncompressed`);
      if (fileDataStart + size > fileSize) throw new Error(`its ${size} bytes at offset ${fileDataStart} lie beyond the end of the ${fileSize}-byte file`);
      filled = (await handle.read(out, 0, size, fileDataStart)).bytesRead;
      return checkCrc(out, filled, entry, name, fail);
    }
    const stream = await zip.openReadStreamPromise(entry);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (filled + chunk.length > size) throw new Error(`more than the ${size} bytes the directory declares`);
      chunk.copy(out, filled);
      filled += chunk.length;
    }
  } catch (err) {
    if (err instanceof LaxrayError) throw err;
    fail(`cannot read entry ${name}: ${(err as Error).message} (truncated or corrupt file)`);
  }
  return checkCrc(out, filled, entry, name, fail);
}

function checkCrc(out: Buffer, filled: number, entry: yauzl.Entry, name: string, fail: (problem: string) => never): Buffer {
  const size = entry.uncompressedSize;
  if (filled !== size) fail(`entry ${name} ends after ${filled} of its ${size} bytes (truncated file)`);
  // torch writes CRC-32s; a zero one means the writer skipped it (torch.serialization.set_crc32_options(False)).
  if (entry.crc32 !== 0 && crc32(out) >>> 0 !== entry.crc32 >>> 0) fail(`entry ${name} fails its CRC-32 check (corrupt file)`);
  return out;
}
