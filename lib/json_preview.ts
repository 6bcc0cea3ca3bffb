// A short rendering of any parsed JSON value for an error message. Unlike
// JSON.stringify it stops after `max` characters and a few levels of nesting,
// so a value nested 100 000 deep or an array of 10 million items costs
// nothing and never overflows the stack.
const MAX_DEPTH = 8;

/** JSON text of `v`, cut to `max` characters ("..." at the end when cut; "[...]" / "{...}" below 8 levels). */
export function previewJson(v: unknown, max = 60): string {
  let out = '';
  const full = () => out.length > max;
  const walk = (x: unknown, depth: number): void => {
    if (full()) return;
    if (x === undefined) out += 'undefined';
    else if (x === null || typeof x === 'boolean' || typeof x === 'number') out += String(x);
    else if (typeof x === 'string') out += JSON.stringify(x.length > max ? x.slice(0, max + 1) : x);
    else if (typeof x !== 'object') out += String(x);
    else if (Array.isArray(x)) {
      if (depth >= MAX_DEPTH) return void (out += '[...]');
      out += '[';
      for (let i = 0; i < x.length && !full(); i++) {
        if (i > 0) out += ',';
        walk(x[i], depth + 1);
      }
      out += ']';
    } else {
      if (depth >= MAX_DEPTH) return void (out += '{...}');
      out += '{';
      let first = true;
      for (const key in x) {
        if (!Object.hasOwn(x, key)) continue;
        if (full()) break;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key.length > max ? key.slice(0, max + 1) : key)}:`;
        walk((x as Record<string, unknown>)[key], depth + 1);
      }
      out += '}';
    }
  };
  walk(v, 0);
  return out.length > max ? `${out.slice(0, max - 3)}...` : out;
}
