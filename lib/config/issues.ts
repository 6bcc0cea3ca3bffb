// zod issues -> one line each that a user can act on:
//   model.head.regresion: unknown key (did you mean regression?)
//   train.batchSize: expected an integer ≥ 1, got string "8"
//   model.head.regression: expected one of 'delta', 'distribution', got 'dist' (did you mean distribution?)
// The schema itself is walked to say what a key expects and which keys exist.
import type { z } from 'zod';

// Minimal view of zod v4's internal definitions; enough to walk the schema.
interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  items?: Schema[];
  values?: unknown[];
  entries?: Record<string, unknown>;
  options?: Schema[];
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }[];
  format?: string;
}
interface Schema {
  _zod: { def: Def };
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'catch', 'readonly', 'nonoptional']);

/** The sub-schema at `path` (as declared, wrappers included); undefined when the path leaves the schema. */
export function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): Schema | undefined {
  let s: Schema | undefined = root as unknown as Schema;
  for (const key of path) {
    if (!s) return undefined;
    const def: Def = unwrap(s)._zod.def;
    if (def.type === 'object' && typeof key === 'string') s = def.shape?.[key];
    else if (def.type === 'array' && typeof key === 'number') s = def.element;
    else if (def.type === 'tuple' && typeof key === 'number') s = def.items?.[key];
    else return undefined;
  }
  return s;
}

function unwrap(s: Schema): Schema {
  for (;;) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

function isNullable(s: Schema): boolean {
  for (let cur: Schema | undefined = s; cur; ) {
    const def: Def = cur._zod.def;
    if (def.type === 'nullable') return true;
    cur = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
  }
  return false;
}

/** The keys an object schema accepts at `path` (for "did you mean"). */
export function knownKeys(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, path);
  const def = s && unwrap(s)._zod.def;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

/** "an integer ≥ 1", "one of 18, 34, 50", "a string or null", "[number, number]" ... */
export function describeExpected(s: Schema, withNull = isNullable(s)): string {
  const u = unwrap(s);
  const def = u._zod.def;
  let text: string;
  switch (def.type) {
    case 'object':
      text = `an object {${Object.keys(def.shape ?? {}).join(', ')}}`;
      break;
    case 'array':
      text = `an array of ${def.element ? plural(describeExpected(def.element, false)) : 'values'}`;
      break;
    case 'tuple':
      text = `[${(def.items ?? []).map((i) => bare(describeExpected(i, false))).join(', ')}]`;
      break;
    case 'enum':
      text = `one of ${Object.values(def.entries ?? {}).map(show).join(', ')}`;
      break;
    case 'literal':
      text = (def.values ?? []).length === 1 ? show(def.values![0]) : `one of ${(def.values ?? []).map(show).join(', ')}`;
      break;
    case 'boolean':
      text = 'true or false';
      break;
    case 'string':
      text = 'a string';
      break;
    case 'number':
      text = (def.format && /int/.test(def.format) ? 'an integer' : 'a number') + bounds(def);
      break;
    default:
      text = def.type;
  }
  return withNull ? `${text} or null` : text;
}

function bounds(def: Def): string {
  const parts: string[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'greater_than') parts.push(`${d.inclusive ? '≥' : '>'} ${d.value}`);
    if (d.check === 'less_than') parts.push(`${d.inclusive ? '≤' : '<'} ${d.value}`);
  }
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

const bare = (s: string) => s.replace(/^an? /, '');
const plural = (s: string) => s.replace(/^an? (\w+)/, '$1s');

/** How a value given by the user reads in a message: string "8", number 1.5, null, an array of 2 items, an object. */
export function describeGiven(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto === Object.prototype || proto === null) return 'an object';
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    // e.g. an object literal with a __proto__ key: its settings sit on the prototype, where nothing reads them
    return typeof name === 'string' && name !== '' && name !== 'Object'
      ? `an instance of ${name} (give a plain object)`
      : 'an object with a non-standard prototype (was it written with a "__proto__" key? give a plain object)';
  }
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

export function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out === '' ? '(top level)' : out;
}

/** The closest candidate to `word` if it is plausibly a typo, a prefix, or another casing / snake_case. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const w = norm(word);
  const exact = candidates.find((c) => norm(c) === w);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, norm(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(w.length / 3))) return best;
  const prefixed = w.length >= 3 ? candidates.filter((c) => norm(c).startsWith(w)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Edit distance counting an adjacent transposition as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** One message per problem (an unknown-keys issue gives one per key). */
export function formatIssues(root: z.ZodType, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const at = keyPath(path);
    const input = (issue as { input?: unknown }).input;
    const declared = schemaAt(root, path);
    const schema = declared && unwrap(declared);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeys(root, path);
        for (const key of issue.keys) {
          const guess = didYouMean(key, known);
          const hint = guess !== undefined ? `did you mean ${guess}?` : `known keys: ${known.join(', ')}`;
          out.push(`${keyPath([...path, key])}: unknown key (${hint})`);
        }
        break;
      }
      case 'invalid_type':
      case 'invalid_union': {
        const expected = declared ? describeExpected(declared) : issue.code === 'invalid_type' ? issue.expected : 'another value';
        if (input === undefined) out.push(`${at}: missing; add it (expected ${expected})`);
        else out.push(`${at}: expected ${expected}, got ${describeGiven(input)}`);
        break;
      }
      case 'invalid_value': {
        const values = issue.values.map(show).join(', ');
        const guess = typeof input === 'string' ? didYouMean(input, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
        out.push(`${at}: expected ${issue.values.length === 1 ? values : `one of ${values}`}, got ${typeof input === 'string' ? show(input) : describeGiven(input)}${guess !== undefined ? ` (did you mean '${guess}'?)` : ''}`);
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const limit = small ? issue.minimum : issue.maximum;
        if (issue.origin === 'array' && schema?._zod.def.type === 'tuple') {
          out.push(`${at}: expected ${describeExpected(schema, false)} (${schema._zod.def.items?.length} numbers), got ${describeGiven(input)}`);
        } else if (issue.origin === 'array' || issue.origin === 'string') {
          const unit = issue.origin === 'array' ? 'item' : 'character';
          out.push(`${at}: needs ${small ? 'at least' : 'at most'} ${String(limit)} ${unit}${limit === 1 ? '' : 's'}, got ${describeGiven(input)}`);
        } else {
          const op = small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
          out.push(`${at}: must be ${op} ${String(limit)}, got ${String(input)}`);
        }
        break;
      }
      case 'invalid_format':
        out.push(`${at}: ${issue.message}, got ${describeGiven(input)}`);
        break;
      default:
        out.push(`${at}: ${issue.message}`);
    }
  }
  return out;
}
