// Reading a JSON config file with errors that point at the file, line and column.
// JSON.parse does the parsing; when it fails, a small scanner walks the text to
// find where and why (V8's messages do not always carry a position).
import { readFileSync } from 'node:fs';
import { LaxrayError } from '../errors.js';

export interface JsonSyntaxError {
  /** Offset in the text (UTF-16 units). */
  offset: number;
  line: number;
  column: number;
  reason: string;
}

/** Parses `text`; on a syntax error throws INVALID_CONFIG naming `file:line:column`. */
export function parseJsonText(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch {
    const e = locateJsonError(body);
    throw new LaxrayError(
      'INVALID_CONFIG',
      `${file}:${e.line}:${e.column}: malformed JSON at line ${e.line}, column ${e.column}: ${e.reason}; fix the file (JSON allows no comments or trailing commas)`,
      { details: [`line ${e.line}, column ${e.column}: ${e.reason}`] },
    );
  }
}

/** Reads and parses a JSON file; a missing file is IO_ERROR, bad syntax INVALID_CONFIG. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new LaxrayError('IO_ERROR', `cannot read config file ${file}: ${why}`, { cause: err });
  }
  return parseJsonText(text, file);
}

const MAX_DEPTH = 2_000;

/** Where and why `text` is not JSON. Only meaningful for text JSON.parse rejects. */
export function locateJsonError(text: string): JsonSyntaxError {
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
    // deeper than any config; scanning on would overflow the stack
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
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail('malformed number');
    i += m![0].length;
  };
  let offset = text.length;
  let reason = 'not valid JSON';
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
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return { offset, line, column, reason };
}
