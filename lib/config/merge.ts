// Deep merge of plain JSON objects: `override` wins; objects merge key by key;
// arrays, null and scalars replace what was there.

export type JsonObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is JsonObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A new object: `base` overridden by `override`, recursively. Neither input is changed. */
export function deepMerge(base: JsonObject, override: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    const prev = Object.hasOwn(out, key) ? out[key] : undefined;
    // defineProperty: a "__proto__" key from JSON stays a key (the schema reports it), never a prototype
    Object.defineProperty(out, key, {
      value: isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
