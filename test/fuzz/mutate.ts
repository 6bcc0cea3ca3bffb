// Structure-aware mutations for the parser fuzzers (fast-check arbitraries):
// byte-level edits of a valid file (flip, overwrite, truncate, insert, splice
// a "magic" value), and value-level edits of a parsed JSON document (replace a
// node by another JSON value, a numeric-looking string, a huge or fractional
// number, a deep nest, delete or duplicate a node, add a __proto__ key).
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values that break parsers: boundaries, wrong types that look right, deep nests. */
export const nastyJson: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(0, -1, 1, 0.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 31, 2 ** 32, 2 ** 63, 4294967295, '', '0', '1', '8', '-1', '1e3', 'NaN', null, true, false, [], {}),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 1, max: 100_000 }).map((depth) => deepNest(depth)),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

/**
 * [[[...]]] `depth` levels deep. In the document it is a placeholder string
 * (JSON.stringify and structuredClone recurse and would overflow on the real
 * thing); toJsonText writes it out as brackets, JSON.parse (iterative) reads it.
 */
export function deepNest(depth: number): Json {
  return `\u0000DEEP:${depth}\u0000`;
}

/** The document as JSON text, deep-nest placeholders expanded. */
export function toJsonText(doc: Json): string {
  return JSON.stringify(doc).replace(/"\\u0000DEEP:(\d+)\\u0000"/g, (_, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

/** Every path to a node of `doc` (bounded: a fuzzer input is small). */
function paths(doc: Json, limit = 2_000): (string | number)[][] {
  const out: (string | number)[][] = [];
  const stack: { node: Json; path: (string | number)[] }[] = [{ node: doc, path: [] }];
  while (stack.length > 0 && out.length < limit) {
    const { node, path } = stack.pop()!;
    out.push(path);
    if (Array.isArray(node)) node.forEach((child, i) => stack.push({ node: child, path: [...path, i] }));
    else if (node !== null && typeof node === 'object') for (const [k, child] of Object.entries(node)) stack.push({ node: child, path: [...path, k] });
  }
  return out;
}

export type JsonEdit =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'proto'; at: number; value: Json };

const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: nastyJson }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('proto' as const), at: fc.nat(), value: nastyJson }) },
);

/** A copy of `doc` with `edits` applied (each picks its node by index among all nodes). */
export function applyJsonEdits(doc: Json, edits: readonly JsonEdit[]): Json {
  let out = structuredClone(doc); // placeholders only: no real deep nest to clone
  for (const edit of edits) {
    const all = paths(out);
    const path = all[edit.at % all.length]!;
    if (path.length === 0) {
      if (edit.kind === 'replace') out = edit.value;
      continue;
    }
    let parent = out as Record<string | number, Json>;
    for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[k] as Record<string | number, Json>;
    const key = path[path.length - 1]!;
    if (edit.kind === 'replace') parent[key] = edit.value;
    else if (edit.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (edit.kind === 'duplicate') {
      if (Array.isArray(parent)) parent.push(parent[key as number]!);
    } else {
      const target = parent[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, '__proto__', { value: edit.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

export const jsonEdits = (max = 4): fc.Arbitrary<JsonEdit[]> => fc.array(jsonEdit, { minLength: 1, maxLength: max });

export type ByteEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'magic'; at: number; width: 1 | 2 | 4 | 8; value: bigint };

const MAGIC = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn];

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('magic' as const), at: fc.nat(), width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), value: fc.constantFrom(...MAGIC) }),
);

/** `bytes` with `edits` applied; positions wrap around the current length. */
export function applyByteEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const e of edits) {
    if (out.length === 0) break;
    const at = e.at % out.length;
    if (e.kind === 'flip') out[at]! ^= 1 << e.bit;
    else if (e.kind === 'set') out[at] = e.byte;
    else if (e.kind === 'truncate') out = out.slice(0, at);
    else if (e.kind === 'insert') out = Uint8Array.from([...out.subarray(0, at), ...e.bytes, ...out.subarray(at)]);
    else {
      for (let i = 0; i < e.width && at + i < out.length; i++) out[at + i] = Number((e.value >> BigInt(8 * i)) & 0xffn);
    }
  }
  return out;
}

export const byteEdits = (max = 4): fc.Arbitrary<ByteEdit[]> => fc.array(byteEdit, { minLength: 1, maxLength: max });
