// A fast reader for COCO results files — a JSON array of
// {"image_id", "category_id", "bbox", "score", ...} objects — straight from the
// bytes into typed arrays, several times faster than JSON.parse + objects.
//
// Files are read in chunks into one small reused buffer and parsed object by
// object as they arrive (an object cut by a chunk boundary is parsed again
// once the rest is there), so a large file is never held in memory whole.
//
// It only accepts what it fully understands; on anything else (syntax errors,
// escaped keys, a missing or non-numeric field, ...) it returns null and the
// caller falls back to JSON.parse, which gives the exact same numbers and the
// detailed error messages. Numbers are decoded exactly as JSON.parse does:
// Clinger's fast path (integer mantissa < 2^53 and |exponent| ≤ 22 make one
// correctly rounded multiplication or division), Number() otherwise.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { RawDetections } from './types.js';

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact up to 1e22
const MANTISSA_LIMIT = 900719925474099; // ⌊(2^53 − 9) / 10⌋: mantissa·10 + 9 stays exact

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const BACKSLASH = 0x5c;

const FIELD_IMAGE = 1;
const FIELD_CATEGORY = 2;
const FIELD_BBOX = 4;
const FIELD_SCORE = 8;
const ALL_FIELDS = 15;

class Bail extends Error {}
const BAIL = new Bail('not plain COCO results');

/** Parses a whole results file held in memory; null when it is not plain COCO results. */
export function parseResultsFast(buf: Uint8Array): RawDetections | null {
  try {
    const parser = new ResultsParser(Math.ceil(buf.byteLength / 64));
    // A plain Uint8Array view: element access on it is faster than on a Buffer.
    const view = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    if (parser.feed(view, view.length, true) !== view.length) return null;
    return parser.finish();
  } catch (err) {
    if (err instanceof Bail) return null;
    throw err;
  }
}

const CHUNK = 1 << 20;

/**
 * Reads and parses a results file in chunks (1 MiB unless told); null when it
 * is not plain COCO results (the caller then reads it with JSON.parse). I/O
 * errors are thrown.
 */
export function readResultsFileFast(file: string, chunkSize = CHUNK): RawDetections | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const parser = new ResultsParser(Math.ceil(size / 64));
    let buf = new Uint8Array(chunkSize);
    let filled = 0;
    let eof = false;
    try {
      for (;;) {
        if (filled === buf.length) {
          // one object larger than the buffer: make room
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const got = readSync(fd, buf, filled, buf.length - filled, null);
        if (got === 0) eof = true;
        filled += got;
        const consumed = parser.feed(buf, filled, eof);
        if (eof) return consumed === filled ? parser.finish() : null;
        buf.copyWithin(0, consumed, filled);
        filled -= consumed;
      }
    } catch (err) {
      if (err instanceof Bail) return null;
      throw err;
    }
  } finally {
    closeSync(fd);
  }
}

/** Where the parser is in the top-level array. */
const enum State {
  Start, // before '['
  First, // after '[': an object or ']'
  Next, // after an object: ',' or ']'
  Done, // after ']': only whitespace
}

class ResultsParser {
  private b: Uint8Array = new Uint8Array(0);
  private len = 0;
  private pos = 0;
  private state = State.Start;
  private atFileStart = true;
  private n = 0;
  private cap: number;
  private imageId: Float64Array;
  private categoryId: Float64Array;
  private score: Float64Array;
  private box: Float64Array;

  constructor(expected: number) {
    this.cap = Math.max(16, expected);
    this.imageId = new Float64Array(this.cap);
    this.categoryId = new Float64Array(this.cap);
    this.score = new Float64Array(this.cap);
    this.box = new Float64Array(4 * this.cap);
  }

  /**
   * Parses the complete objects in b[0, len); returns how many bytes were used
   * (the rest is an object cut short, to be fed again with what follows).
   * Throws BAIL when the bytes are not plain COCO results.
   */
  feed(b: Uint8Array, len: number, eof: boolean): number {
    this.b = b;
    this.len = len;
    this.pos = 0;
    if (this.atFileStart) {
      if (len < 3 && !eof) return 0;
      if (len >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.pos = 3; // UTF-8 BOM
      this.atFileStart = false;
    }
    for (;;) {
      const save = this.pos;
      const saveN = this.n;
      const saveState = this.state;
      try {
        this.ws();
        if (this.pos >= len) return len;
        const c = b[this.pos];
        switch (this.state) {
          case State.Start:
            this.expect(LBRACKET);
            this.state = State.First;
            break;
          case State.First:
            if (c === RBRACKET) {
              this.pos++;
              this.state = State.Done;
            } else {
              this.object();
              this.state = State.Next;
            }
            break;
          case State.Next:
            if (c === RBRACKET) {
              this.pos++;
              this.state = State.Done;
            } else {
              this.expect(COMMA);
              this.ws();
              this.object();
            }
            break;
          case State.Done:
            throw BAIL; // something after the closing ']'
        }
      } catch (err) {
        // Ran off the end of the data mid-token: wait for more (unless there is no more).
        if (err instanceof Bail && !eof && this.pos >= len - 8) {
          this.pos = save;
          this.n = saveN;
          this.state = saveState;
          return save;
        }
        throw err;
      }
    }
  }

  finish(): RawDetections {
    if (this.state !== State.Done) throw BAIL;
    const n = this.n;
    return {
      count: n,
      imageId: this.imageId.subarray(0, n),
      categoryId: this.categoryId.subarray(0, n),
      box: this.box.subarray(0, 4 * n),
      score: this.score.subarray(0, n),
    };
  }

  private ws(): void {
    const b = this.b;
    let pos = this.pos;
    if (pos < this.len && b[pos]! > 0x20) return;
    while (pos < this.len) {
      const c = b[pos]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  private number(): number {
    const b = this.b;
    const len = this.len;
    let pos = this.pos;
    const start = pos;
    let neg = false;
    if (b[pos] === MINUS) {
      neg = true;
      pos++;
    }
    let c = pos < len ? b[pos]! : 0;
    if (c < 0x30 || c > 0x39) throw BAIL;
    let mant = 0;
    let exact = true;
    if (c === 0x30) {
      pos++;
    } else {
      while (pos < len && (c = b[pos]!) >= 0x30 && c <= 0x39) {
        if (mant > MANTISSA_LIMIT) exact = false;
        else mant = mant * 10 + (c - 0x30);
        pos++;
      }
    }
    let e10 = 0;
    if (pos < len && b[pos] === DOT) {
      pos++;
      const fracStart = pos;
      while (pos < len && (c = b[pos]!) >= 0x30 && c <= 0x39) {
        if (mant > MANTISSA_LIMIT) exact = false;
        else {
          mant = mant * 10 + (c - 0x30);
          e10--;
        }
        pos++;
      }
      if (pos === fracStart) throw BAIL;
    }
    c = pos < len ? b[pos]! : 0;
    if (c === 0x65 || c === 0x45) {
      pos++;
      let eneg = false;
      if (b[pos] === MINUS) {
        eneg = true;
        pos++;
      } else if (b[pos] === PLUS) pos++;
      const expStart = pos;
      let ev = 0;
      while (pos < len && (c = b[pos]!) >= 0x30 && c <= 0x39) {
        if (ev < 100000) ev = ev * 10 + (c - 0x30);
        pos++;
      }
      if (pos === expStart) throw BAIL;
      e10 += eneg ? -ev : ev;
    }
    this.pos = pos;
    if (!exact || e10 > 22 || e10 < -22) {
      return Number(Buffer.from(b.buffer, b.byteOffset + start, pos - start).toString('latin1'));
    }
    const v = e10 >= 0 ? mant * POW10[e10]! : mant / POW10[-e10]!;
    return neg ? -v : v;
  }

  /** Skips (and checks) any JSON value, for fields we do not read. */
  private skipValue(depth: number): void {
    if (depth > 256) throw BAIL;
    const b = this.b;
    const c = b[this.pos];
    if (c === QUOTE) {
      let pos = this.pos + 1;
      while (pos < this.len) {
        const d = b[pos]!;
        if (d === BACKSLASH) pos += 2;
        else if (d === QUOTE) {
          this.pos = pos + 1;
          return;
        } else if (d < 0x20) throw BAIL; // raw control characters are not allowed in JSON strings
        else pos++;
      }
      throw BAIL;
    }
    if (c === LBRACKET) {
      this.pos++;
      this.ws();
      if (b[this.pos] === RBRACKET) {
        this.pos++;
        return;
      }
      for (;;) {
        this.ws();
        this.skipValue(depth + 1);
        this.ws();
        if (b[this.pos] === COMMA) this.pos++;
        else if (b[this.pos] === RBRACKET) {
          this.pos++;
          return;
        } else throw BAIL;
      }
    }
    if (c === LBRACE) {
      this.pos++;
      this.ws();
      if (b[this.pos] === RBRACE) {
        this.pos++;
        return;
      }
      for (;;) {
        this.ws();
        if (b[this.pos] !== QUOTE) throw BAIL;
        this.skipValue(depth + 1);
        this.ws();
        if (b[this.pos] !== COLON) throw BAIL;
        this.pos++;
        this.ws();
        this.skipValue(depth + 1);
        this.ws();
        if (b[this.pos] === COMMA) this.pos++;
        else if (b[this.pos] === RBRACE) {
          this.pos++;
          return;
        } else throw BAIL;
      }
    }
    if (c === MINUS || (c !== undefined && c >= 0x30 && c <= 0x39)) {
      this.number();
      return;
    }
    // true / false / null
    const p = this.pos;
    if (c === 0x74 && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) this.pos += 4;
    else if (c === 0x66 && b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65) this.pos += 5;
    else if (c === 0x6e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) this.pos += 4;
    else throw BAIL;
  }

  private expect(byte: number): void {
    if (this.b[this.pos] !== byte) throw BAIL;
    this.pos++;
  }

  /** One {...} result object; its four fields go to row n. */
  private object(): void {
    const b = this.b;
    const len = this.len;
    this.expect(LBRACE);
    const n = this.n;
    if (n === this.cap) {
      this.cap *= 2;
      this.imageId = grow(this.imageId, this.cap);
      this.categoryId = grow(this.categoryId, this.cap);
      this.score = grow(this.score, this.cap);
      this.box = grow(this.box, 4 * this.cap);
    }
    let seen = 0;
    for (;;) {
      this.ws();
      this.expect(QUOTE);
      const keyStart = this.pos;
      let pos = keyStart;
      while (pos < len && b[pos] !== QUOTE) {
        if (b[pos] === BACKSLASH || b[pos]! < 0x20) throw BAIL;
        pos++;
      }
      if (pos >= len) {
        this.pos = pos;
        throw BAIL;
      }
      const keyLen = pos - keyStart;
      this.pos = pos + 1;
      this.ws();
      this.expect(COLON);
      this.ws();
      const k0 = b[keyStart];
      if (keyLen === 8 && k0 === 0x69 && isKey(b, keyStart, KEY_IMAGE)) {
        this.imageId[n] = this.number();
        seen |= FIELD_IMAGE;
      } else if (keyLen === 11 && k0 === 0x63 && isKey(b, keyStart, KEY_CATEGORY)) {
        this.categoryId[n] = this.number();
        seen |= FIELD_CATEGORY;
      } else if (keyLen === 5 && k0 === 0x73 && isKey(b, keyStart, KEY_SCORE)) {
        this.score[n] = this.number();
        seen |= FIELD_SCORE;
      } else if (keyLen === 4 && k0 === 0x62 && isKey(b, keyStart, KEY_BBOX)) {
        this.expect(LBRACKET);
        const box = this.box;
        for (let q = 0; q < 4; q++) {
          this.ws();
          box[4 * n + q] = this.number();
          this.ws();
          if (q < 3) this.expect(COMMA);
        }
        this.expect(RBRACKET);
        seen |= FIELD_BBOX;
      } else {
        this.skipValue(0);
      }
      this.ws();
      const c = b[this.pos];
      if (c === COMMA) {
        this.pos++;
        continue;
      }
      if (c === RBRACE) {
        this.pos++;
        break;
      }
      throw BAIL;
    }
    if (seen !== ALL_FIELDS) throw BAIL;
    this.n = n + 1;
  }
}

function grow(a: Float64Array, size: number): Float64Array {
  const out = new Float64Array(size);
  out.set(a);
  return out;
}

const keyBytes = (k: string): Uint8Array => Uint8Array.from(k, (c) => c.charCodeAt(0));
const KEY_IMAGE = keyBytes('image_id');
const KEY_CATEGORY = keyBytes('category_id');
const KEY_SCORE = keyBytes('score');
const KEY_BBOX = keyBytes('bbox');

function isKey(b: Uint8Array, at: number, key: Uint8Array): boolean {
  for (let i = 1; i < key.length; i++) if (b[at + i] !== key[i]) return false;
  return true;
}
