// Reading JSON files (configs, COCO datasets, detections, image-id lists, the
// records laxray writes itself) with errors a user can act on. A file that cannot be read is IO_ERROR naming the
// path; malformed JSON is the caller's code, naming `file:line:column` and why.
// JSON.parse does the parsing; only when it fails does a small scanner walk the
// text to find where and why (V8's messages do not always carry a position).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LaxrayError, type LaxrayErrorCode } from './errors.js';

/** What a JSON file is, for messages ("config", "COCO dataset", "detections"), and the code of a syntax error. */
export interface JsonFileKind {
  what: string;
  code: LaxrayErrorCode;
  /**
   * What the message says to do when the file cannot be read or is not JSON,
   * for a file laxray wrote itself ("delete it to evaluate the run again").
   * Default: check the path, or fix the (hand-written) file.
   */
  hint?: string;
}

export interface JsonSyntaxError {
  /** Offset in the text (UTF-16 units). */
  offset: number;
  line: number;
  column: number;
  reason: string;
}

/** Why a read failed, and what to do about it, by error code. */
const READ_FAILURES: Readonly<Record<string, readonly [reason: string, advice: string]>> = {
  ENOENT: ['no such file', 'check the path'],
  EISDIR: ['it is a directory', 'give the path of the JSON file'],
  EACCES: ['permission denied', "check the file's permissions"],
};

/** The IO_ERROR for a file that could not be read, naming the path, the reason and what to do (`kind.hint` when given). */
export function readError(file: string, kind: Pick<JsonFileKind, 'what' | 'hint'>, err: unknown): LaxrayError {
  const e = err as NodeJS.ErrnoException;
  const known = READ_FAILURES[e.code ?? ''];
  const reason = known?.[0] ?? e.message ?? String(err);
  const advice = kind.hint ?? known?.[1];
  return new LaxrayError('IO_ERROR', `cannot read the ${kind.what} file ${file}: ${reason}${advice === undefined ? '' : `; ${advice}`}`, { cause: err });
}

const FIX_THE_FILE = 'fix the file (JSON allows no comments or trailing commas; is it truncated?)';

/** Parses `text` (a leading byte-order mark is ignored); on a syntax error throws `kind.code` naming `file:line:column` and why. */
export function parseJsonText(text: string, file: string, kind: JsonFileKind): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    const e = locateJsonError(body, (err as Error).message);
    const where = `${file}:${e.line}:${e.column}`;
    throw new LaxrayError(
      kind.code,
      `${where}: the ${kind.what} file is not valid JSON at line ${e.line}, column ${e.column}: ${e.reason}; ${kind.hint ?? FIX_THE_FILE}`,
      { cause: err, details: [`${where}: ${e.reason}`] },
    );
  }
}

/** Reads and parses a JSON file; IO_ERROR when it cannot be read, `kind.code` when it is not JSON. */
export function readJsonFileSync(file: string, kind: JsonFileKind): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw readError(file, kind, err);
  }
  return parseJsonText(text, file, kind);
}

/** readJsonFileSync without blocking the event loop while the file is read. */
export async function readJsonFile(file: string, kind: JsonFileKind): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw readError(file, kind, err);
  });
  return parseJsonText(text, file, kind);
}

const MAX_DEPTH = 2_000;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * Where and why `text` is not JSON. Only meaningful for text JSON.parse
 * rejects; `fallback` (e.g. V8's message) is the reason when the scan finds nothing.
 */
export function locateJsonError(text: string, fallback = 'not valid JSON'): JsonSyntaxError {
  let i = 0;
  const fail = (reason: string, at = i): never => {
    throw Object.assign(new Error(reason), { offset: at });
  };
  const describe = (at: number) => (at >= text.length ? 'end of file' : `'${text[at]}'`);
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  let depth = 0;
  const nested = (scan: () => void): void => {
    // deeper than any real file; scanning on would overflow the stack
    if (++depth > MAX_DEPTH) fail(`nested more than ${MAX_DEPTH} levels deep`);
    scan();
    depth--;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') return nested(object);
    if (ch === '[') return nested(array);
    if (ch === '"') return string();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    if (ch === '/') fail('comments are not allowed in JSON');
    if (ch === "'") fail('strings must use double quotes');
    fail(`expected a value, found ${describe(i)}`);
  };
  // object and array are written out rather than sharing one container helper: every
  // extra call per nesting level costs stack, and a shared helper overflows before the
  // MAX_DEPTH check at 2,000 levels (test/config.test.ts, 100,000 levels deep).
  const object = () => {
    i++;
    ws();
    if (text[i] === '}') return void i++;
    for (;;) {
      ws();
      if (text[i] === '}') fail("trailing comma before '}'");
      if (text[i] !== '"') fail(`expected a double-quoted property name, found ${describe(i)}`);
      string();
      ws();
      if (text[i] !== ':') fail(`expected ':' after the property name, found ${describe(i)}`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') return void i++;
      fail(`expected ',' or '}' after a property value, found ${describe(i)}`);
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === ']') return void i++;
    for (;;) {
      ws();
      if (text[i] === ']') fail("trailing comma before ']'");
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') return void i++;
      fail(`expected ',' or ']' after an array element, found ${describe(i)}`);
    }
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail('control character (e.g. a line break) inside a string');
      if (c === 0x5c) {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape in a string');
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else fail(`bad escape '\\${esc ?? ''}' in a string`);
      } else i++;
    }
  };
  const number = () => {
    // sticky: matches at i without copying the rest of a (possibly huge) file
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail('malformed number');
    i += m![0].length;
  };
  let offset = text.length;
  let reason = fallback;
  try {
    ws();
    if (i >= text.length) fail('the file is empty');
    value();
    ws();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
  } catch (err) {
    offset = (err as { offset: number }).offset;
    reason = (err as Error).message;
  }
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { offset, line, column: offset - lineStart + 1, reason };
}
