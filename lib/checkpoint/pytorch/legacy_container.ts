// torch.save's legacy format (PyTorch < 1.6, or _use_new_zipfile_serialization
// =False; mmdetection's 2019-2020 model zoo and torchvision's pre-2022 weight
// URLs use it): five pickles in a row (magic number, protocol version 1001,
// sys_info {little_endian, ...}, the object, the list of storage keys), then
// each storage as an int64 element count and its raw bytes, in key-list order.
//
// The pickles are read from a prefix of the file that doubles until they fit
// (bounded by maxPickleBytes); the storages are then located by walking their
// headers, and read one at a time at their offsets.
import { promises as fs } from 'node:fs';
import { LaxrayError } from '../../errors.js';
import { ELEMENT_BYTES } from './dtypes.js';
import { formatBytes, StorageRef } from './tensor.js';
import { PickleEndError, PyDict, unpickle, type UnpicklerPolicy } from './unpickler.js';

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

export interface LegacyLimits {
  maxPickleBytes: number;
  maxEntryBytes: number;
}

export interface LegacyTorch {
  root: unknown;
  littleEndian: boolean;
  readStorage(key: string, minBytes: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** `makePolicy` is called once per attempt: the pickles are re-read when the prefix grows. */
export async function openLegacyTorch(file: string, makePolicy: () => { policy: UnpicklerPolicy; storages: Map<string, StorageRef> }, limits: LegacyLimits, what: string): Promise<LegacyTorch> {
  const fail = (problem: string): never => {
    throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
  };
  const handle = await fs.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const parsed = await readPickles(handle, fileSize, makePolicy, limits, what, fail);
    const offsets = await locateStorages(handle, fileSize, parsed, fail);
    return {
      root: parsed.root,
      littleEndian: parsed.littleEndian,
      readStorage: async (key, minBytes) => {
        const at = offsets.get(key);
        if (at === undefined) return fail(`storage '${key}' is not in the file's storage list (corrupt file)`);
        if (at.bytes < minBytes) fail(`storage '${key}' holds ${at.bytes} bytes but ${minBytes} are needed (corrupt file)`);
        if (at.bytes > limits.maxEntryBytes) fail(`storage '${key}' is ${formatBytes(at.bytes)}, more than the limit of ${formatBytes(limits.maxEntryBytes)}`);
        const out = Buffer.allocUnsafe(at.bytes);
        const { bytesRead } = await handle.read(out, 0, at.bytes, at.offset);
        if (bytesRead !== at.bytes) fail(`storage '${key}' ends after ${bytesRead} of ${at.bytes} bytes (truncated file)`);
        return out;
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

interface ParsedPickles {
  root: unknown;
  littleEndian: boolean;
  keys: string[];
  storages: Map<string, StorageRef>;
  dataStart: number;
}

async function readPickles(
  handle: fs.FileHandle,
  fileSize: number,
  makePolicy: () => { policy: UnpicklerPolicy; storages: Map<string, StorageRef> },
  limits: LegacyLimits,
  what: string,
  fail: (problem: string) => never,
): Promise<ParsedPickles> {
  for (let length = Math.min(fileSize, 1 << 20); ; length = Math.min(fileSize, length * 2, limits.maxPickleBytes)) {
    const prefix = Buffer.alloc(length);
    await handle.read(prefix, 0, length, 0);
    try {
      return parseHeader(prefix, makePolicy, what, fail);
    } catch (err) {
      if (!(err instanceof PickleEndError)) throw err;
      if (length >= fileSize) fail('the file ends inside its pickles (truncated file)');
      if (length >= limits.maxPickleBytes) fail(`the pickles take more than the limit of ${formatBytes(limits.maxPickleBytes)}`);
    }
  }
}

function parseHeader(bytes: Uint8Array, makePolicy: () => { policy: UnpicklerPolicy; storages: Map<string, StorageRef> }, what: string, fail: (problem: string) => never): ParsedPickles {
  const plain = plainPolicy(what);
  const magic = unpickle(bytes, plain, `${what} (magic number)`);
  if (magic.value !== LEGACY_MAGIC) fail('not a PyTorch checkpoint (the legacy format starts with its magic number)');
  const version = unpickle(bytes.subarray(magic.end), plain, `${what} (protocol version)`);
  if (version.value !== LEGACY_PROTOCOL) fail(`legacy protocol version ${String(version.value)}, expected ${LEGACY_PROTOCOL}`);
  let at = magic.end + version.end;
  const sysInfo = unpickle(bytes.subarray(at), plain, `${what} (sys_info)`);
  at += sysInfo.end;
  const littleEndian = !(sysInfo.value instanceof PyDict) || sysInfo.value.map.get('little_endian') !== false;
  const { policy, storages } = makePolicy();
  const main = unpickle(bytes.subarray(at), policy, what);
  at += main.end;
  const keyList = unpickle(bytes.subarray(at), plain, `${what} (storage keys)`);
  at += keyList.end;
  if (!Array.isArray(keyList.value) || !keyList.value.every((k) => typeof k === 'string')) fail('the storage key list is not a list of strings (corrupt file)');
  return { root: main.value, littleEndian, keys: keyList.value as string[], storages, dataStart: at };
}

/** Walks the storage records: [int64 element count][count × element size bytes], in key-list order. */
async function locateStorages(handle: fs.FileHandle, fileSize: number, parsed: ParsedPickles, fail: (problem: string) => never): Promise<Map<string, { offset: number; bytes: number }>> {
  const offsets = new Map<string, { offset: number; bytes: number }>();
  const header = Buffer.alloc(8);
  let at = parsed.dataStart;
  for (const key of parsed.keys) {
    const storage = parsed.storages.get(key);
    if (storage === undefined) fail(`the storage list names '${key}', which no tensor uses (corrupt file)`);
    if ((await handle.read(header, 0, 8, at)).bytesRead !== 8) fail(`the file ends before storage '${key}' (truncated file)`);
    const count = parsed.littleEndian ? header.readBigInt64LE(0) : header.readBigInt64BE(0);
    const bytes = count * BigInt(ELEMENT_BYTES[storage.dtype]);
    if (count < 0n || at + 8 + Number(bytes) > fileSize) fail(`storage '${key}' declares ${count} elements, beyond the end of the file (truncated or corrupt file)`);
    offsets.set(key, { offset: at + 8, bytes: Number(bytes) });
    at += 8 + Number(bytes);
  }
  return offsets;
}

/** For the small header pickles: plain data only. */
function plainPolicy(what: string): UnpicklerPolicy {
  const refuse = (problem: string): never => {
    throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem} in a header pickle, which holds plain data only: refused`);
  };
  return {
    findGlobal: (module, name) => refuse(`the global ${module}.${name}`),
    call: () => refuse('a call'),
    build: () => refuse('a BUILD'),
    persistentLoad: () => refuse('a persistent id'),
  };
}
