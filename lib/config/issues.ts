// zod issues -> one line each that a user can act on:
//   model.head.regresion: unknown key (did you mean regression?)
//   train.batchSize: expected an integer ≥ 1, got string "8"
//   model.head.regression: expected one of 'delta', 'distribution', got 'dist' (did you mean distribution?)
// The config's JSON Schema is walked to say what a key expects and which keys exist.
import type { z } from 'zod';

/**
 * A node of the config's JSON Schema (configJsonSchema: zod's public
 * toJSONSchema, input side): what this module reads to say what a key
 * expects and which keys exist.
 */
export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode | false;
  prefixItems?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
}

const isNull = (n: SchemaNode): boolean => n.type === 'null';

/** The node without its null alternative (a nullable field is anyOf [X, null], or type [X, 'null']). */
export function withoutNull(node: SchemaNode): SchemaNode {
  if (Array.isArray(node.type)) {
    const types = node.type.filter((t) => t !== 'null');
    return { ...node, type: types.length === 1 ? types[0]! : types };
  }
  const options = node.anyOf?.filter((n) => !isNull(n));
  return options?.length === 1 ? { ...options[0]!, ...(node.description !== undefined ? { description: node.description } : {}) } : node;
}

function isNullable(node: SchemaNode): boolean {
  return (Array.isArray(node.type) && node.type.includes('null')) || (node.anyOf?.some(isNull) ?? false);
}

/** The node at `path`; undefined when the path leaves the schema. */
export function schemaAt(root: SchemaNode, path: readonly PropertyKey[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const key of path) {
    if (!node) return undefined;
    const n: SchemaNode = withoutNull(node);
    if (typeof key === 'string') node = n.properties?.[key];
    else if (typeof key === 'number') node = n.prefixItems?.[key] ?? (n.items === false ? undefined : n.items);
    else return undefined;
  }
  return node;
}

/** The keys an object accepts at `path` (for "did you mean"). */
export function knownKeys(root: SchemaNode, path: readonly PropertyKey[]): string[] {
  const node = schemaAt(root, path);
  return Object.keys((node && withoutNull(node).properties) ?? {});
}

/** "an integer ≥ 1", "one of 18, 34, 50", "a string or null", "[number, number]" ... */
export function describeExpected(node: SchemaNode, withNull = isNullable(node)): string {
  const n = withoutNull(node);
  let text: string;
  if (n.enum !== undefined) text = n.enum.length === 1 ? literal(n.enum[0]) : `one of ${n.enum.map(literal).join(', ')}`;
  else if ('const' in n) text = literal(n.const);
  else if (n.anyOf !== undefined) text = n.anyOf.filter((o) => !isNull(o)).map((o) => describeExpected(o, false)).join(' or ');
  else if (n.type === 'object') text = `an object {${Object.keys(n.properties ?? {}).join(', ')}}`;
  else if (n.type === 'array' && n.prefixItems) text = `[${n.prefixItems.map((i) => bare(describeExpected(i, false))).join(', ')}]`;
  else if (n.type === 'array') text = `an array of ${n.items ? plural(describeExpected(n.items, false)) : 'values'}`;
  else if (n.type === 'boolean') text = 'true or false';
  else if (n.type === 'string') text = 'a string';
  else if (n.type === 'integer') text = 'an integer' + bounds(n);
  else if (n.type === 'number') text = 'a number' + bounds(n);
  else if (Array.isArray(n.type)) text = n.type.map((type) => describeExpected({ type }, false)).join(' or ');
  else text = n.type ?? 'a value';
  return withNull ? `${text} or null` : text;
}

/** " ≥ 1 and < 2"; an integer's implicit safe-integer range is not worth saying. */
function bounds(n: SchemaNode): string {
  const said = (v: number | undefined): v is number => v !== undefined && Math.abs(v) !== Number.MAX_SAFE_INTEGER;
  const parts: string[] = [];
  if (said(n.minimum)) parts.push(`≥ ${n.minimum}`);
  if (said(n.exclusiveMinimum)) parts.push(`> ${n.exclusiveMinimum}`);
  if (said(n.maximum)) parts.push(`≤ ${n.maximum}`);
  if (said(n.exclusiveMaximum)) parts.push(`< ${n.exclusiveMaximum}`);
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

/** A schema literal as written in messages: 'clip', 3, true. */
function literal(v: unknown): string {
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
export function formatIssues(root: SchemaNode, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const at = keyPath(path);
    const input = (issue as { input?: unknown }).input;
    const declared = schemaAt(root, path);
    const schema = declared && withoutNull(declared);
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
        const values = issue.values.map(literal).join(', ');
        const guess = typeof input === 'string' ? didYouMean(input, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
        out.push(`${at}: expected ${issue.values.length === 1 ? values : `one of ${values}`}, got ${typeof input === 'string' ? literal(input) : describeGiven(input)}${guess !== undefined ? ` (did you mean '${guess}'?)` : ''}`);
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const limit = small ? issue.minimum : issue.maximum;
        if (issue.origin === 'array' && schema?.prefixItems !== undefined) {
          out.push(`${at}: expected ${describeExpected(schema, false)} (${schema.prefixItems.length} numbers), got ${describeGiven(input)}`);
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
