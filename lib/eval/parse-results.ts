// A fast reader for COCO results files — a JSON array of
// {"image_id", "category_id", "bbox", "score", ...} objects — straight from the
// bytes into typed arrays, several times faster than JSON.parse + objects.
//
// It only accepts what it fully understands; on anything else (syntax errors,
// escaped keys, a missing or non-numeric field, ...) it returns null and the
// caller falls back to JSON.parse, which gives the exact same numbers and the
// detailed error messages. Numbers are decoded exactly as JSON.parse does:
// Clinger's fast path (integer mantissa < 2^53 and |exponent| ≤ 22 make one
// correctly rounded multiplication or division), Number() otherwise.
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

export function parseResultsFast(buf: Uint8Array): RawDetections | null {
  try {
    // A plain Uint8Array view: element access on it is faster than on a Buffer.
    return new ResultsParser(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)).parse();
  } catch (err) {
    if (err instanceof Bail) return null;
    throw err;
  }
}

class ResultsParser {
  private readonly b: Uint8Array;
  private readonly len: number;
  private pos = 0;

  constructor(b: Uint8Array) {
    this.b = b;
    this.len = b.length;
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

  parse(): RawDetections {
    const b = this.b;
    const len = this.len;
    let cap = Math.max(16, Math.ceil(len / 64));
    let imageId: Float64Array = new Float64Array(cap);
    let categoryId: Float64Array = new Float64Array(cap);
    let score: Float64Array = new Float64Array(cap);
    let box: Float64Array = new Float64Array(4 * cap);
    let n = 0;

    if (len >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.pos = 3; // UTF-8 BOM
    this.ws();
    this.expect(LBRACKET);
    this.ws();
    if (b[this.pos] === RBRACKET) {
      this.pos++;
    } else {
      for (;;) {
        this.ws();
        this.expect(LBRACE);
        if (n === cap) {
          cap *= 2;
          imageId = grow(imageId, cap);
          categoryId = grow(categoryId, cap);
          score = grow(score, cap);
          box = grow(box, 4 * cap);
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
          if (pos >= len) throw BAIL;
          const keyLen = pos - keyStart;
          this.pos = pos + 1;
          this.ws();
          this.expect(COLON);
          this.ws();
          const k0 = b[keyStart];
          if (keyLen === 8 && k0 === 0x69 && isKey(b, keyStart, 'image_id')) {
            imageId[n] = this.number();
            seen |= FIELD_IMAGE;
          } else if (keyLen === 11 && k0 === 0x63 && isKey(b, keyStart, 'category_id')) {
            categoryId[n] = this.number();
            seen |= FIELD_CATEGORY;
          } else if (keyLen === 5 && k0 === 0x73 && isKey(b, keyStart, 'score')) {
            score[n] = this.number();
            seen |= FIELD_SCORE;
          } else if (keyLen === 4 && k0 === 0x62 && isKey(b, keyStart, 'bbox')) {
            this.expect(LBRACKET);
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
        n++;
        this.ws();
        const c = b[this.pos];
        if (c === COMMA) {
          this.pos++;
          continue;
        }
        if (c === RBRACKET) {
          this.pos++;
          break;
        }
        throw BAIL;
      }
    }
    this.ws();
    if (this.pos !== len) throw BAIL;
    return {
      count: n,
      imageId: imageId.subarray(0, n),
      categoryId: categoryId.subarray(0, n),
      box: box.subarray(0, 4 * n),
      score: score.subarray(0, n),
    };
  }
}

function grow(a: Float64Array, size: number): Float64Array {
  const out = new Float64Array(size);
  out.set(a);
  return out;
}

const KEY_BYTES = new Map<string, Uint8Array>(['image_id', 'category_id', 'score', 'bbox'].map((k) => [k, Uint8Array.from(k, (c) => c.charCodeAt(0))]));

function isKey(b: Uint8Array, at: number, key: string): boolean {
  const kb = KEY_BYTES.get(key)!;
  for (let i = 1; i < kb.length; i++) if (b[at + i] !== kb[i]) return false;
  return true;
}
