// Reading JSON input files with errors a user can act on: a missing or
// unreadable file is IO_ERROR naming the path; malformed JSON names the file,
// the line and the column.
import { readFile } from 'node:fs/promises';
import { LaxrayError, type LaxrayErrorCode } from '../errors.js';

/** The IO_ERROR for a file that could not be read, naming the path and the reason. */
export function ioError(file: string, what: string, err: unknown): LaxrayError {
  const e = err as NodeJS.ErrnoException;
  const reason =
    e.code === 'ENOENT' ? 'no such file; check the path'
    : e.code === 'EISDIR' ? 'it is a directory; give the path of the JSON file'
    : e.code === 'EACCES' ? 'permission denied'
    : (e.message ?? String(err));
  return new LaxrayError('IO_ERROR', `cannot read the ${what} file ${file}: ${reason}`, { cause: err });
}

/** Reads a file as bytes; IO_ERROR naming the path and the reason when it cannot. */
export async function readInputFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw ioError(file, what, err);
  }
}

/** Text of a JSON file without a UTF-8 byte-order mark. */
export function jsonText(bytes: Buffer): string {
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', start);
}

/** JSON.parse with a message naming the file, line and column of the syntax error. */
export function parseJson(text: string, file: string, what: string, code: LaxrayErrorCode): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const column = pos - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    } else if (text.trim() === '') where = ' (the file is empty)';
    throw new LaxrayError(code, `the ${what} file ${file} is not valid JSON${where}: ${msg}. Fix or regenerate the file.`, { cause: err });
  }
}

export async function readJsonFile(file: string, what: string, code: LaxrayErrorCode): Promise<unknown> {
  return parseJson(jsonText(await readInputFile(file, what)), file, what, code);
}
