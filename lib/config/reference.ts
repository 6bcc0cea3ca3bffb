// The config's documentation, read from the schema itself: one entry per
// setting with its key path, what it accepts, its default and its description.
// `laxray` prints it; docs can be generated from it.

import { describeExpected, keyPath } from './issues.js';
import { configShape } from './schema.js';

export interface ConfigField {
  /** Full key path, e.g. 'model.head.la'. */
  key: string;
  /** What the field accepts, e.g. "one of 'none', 'cls', 'reg'". */
  accepts: string;
  /** The default as JSON, or the rule when it depends on other fields / the machine. */
  default: string;
  description: string;
}

interface Node {
  description?: string;
  _zod: { def: { type: string; innerType?: Node; in?: Node; shape?: Record<string, Node>; defaultValue?: unknown } };
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'catch', 'readonly', 'pipe']);

/** Every leaf setting of the config, in schema order. */
export function configReference(): ConfigField[] {
  const out: ConfigField[] = [];
  walk(configShape as unknown as Node, [], out);
  return out;
}

function walk(node: Node, path: string[], out: ConfigField[]): void {
  let description: string | undefined;
  let defaultValue: unknown;
  let hasDefault = false;
  let optional = false;
  let s: Node = node;
  for (;;) {
    description ??= s.description;
    const def = s._zod.def;
    if (def.type === 'optional') optional = true;
    if ((def.type === 'default' || def.type === 'prefault') && !hasDefault) {
      hasDefault = true;
      // zod v4 keeps the default as a getter on the definition.
      defaultValue = def.defaultValue;
    }
    if (!WRAPPERS.has(def.type)) break;
    s = (def.type === 'pipe' ? def.in : def.innerType)!;
  }
  const def = s._zod.def;
  if (def.type === 'object' && !(hasDefault && defaultValue === null)) {
    for (const [key, child] of Object.entries(def.shape ?? {})) walk(child, [...path, key], out);
    return;
  }
  const rule = description?.match(/Default: (.*)$/)?.[1];
  out.push({
    key: keyPath(path),
    accepts: describeExpected(node as unknown as Parameters<typeof describeExpected>[0]),
    default: rule ?? (hasDefault ? JSON.stringify(defaultValue) : optional ? 'none' : 'required'),
    description: (description ?? '').replace(/\s*Default: .*$/, ''),
  });
}

/** The reference as aligned text, one setting per line. */
export function formatConfigReference(fields: readonly ConfigField[] = configReference()): string {
  const w = Math.max(...fields.map((f) => f.key.length));
  return fields.map((f) => `${f.key.padEnd(w)}  ${f.description} [${f.accepts}; default ${f.default}]`).join('\n');
}

