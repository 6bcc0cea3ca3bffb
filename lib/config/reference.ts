// The config's documentation, read from the schema itself: one entry per
// setting with its key path, what it accepts, its default and its description.
// `laxray` prints it; docs can be generated from it.

import { describeExpected, keyPath, withoutNull, type SchemaNode } from './issues.js';
import { configJsonSchema } from './schema.js';

export interface ConfigField {
  /** Full key path, e.g. 'model.head.la'. */
  key: string;
  /** What the field accepts, e.g. "one of 'none', 'cls', 'reg'". */
  accepts: string;
  /** The default as JSON, or the rule when it depends on other fields / the machine. */
  default: string;
  description: string;
}

/** Every leaf setting of the config, in schema order. */
export function configReference(): ConfigField[] {
  const out: ConfigField[] = [];
  walk(configJsonSchema() as SchemaNode, [], true, out);
  return out;
}

function walk(node: SchemaNode, path: string[], required: boolean, out: ConfigField[]): void {
  const hasDefault = 'default' in node;
  const object = withoutNull(node);
  if (object.type === 'object' && object.properties !== undefined && !(hasDefault && node.default === null)) {
    for (const [key, child] of Object.entries(object.properties)) walk(child, [...path, key], object.required?.includes(key) ?? false, out);
    return;
  }
  const description = node.description ?? '';
  const rule = description.match(/Default: (.*)$/)?.[1];
  out.push({
    key: keyPath(path),
    accepts: describeExpected(node),
    default: rule ?? (hasDefault ? JSON.stringify(node.default) : required ? 'required' : 'none'),
    description: description.replace(/\s*Default: .*$/, ''),
  });
}
