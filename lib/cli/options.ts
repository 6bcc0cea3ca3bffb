// Parsers for command-line option values, shared by the sub-commands: each
// turns a string into a checked value or throws commander's
// InvalidArgumentError naming the flag and what it expects.
import { InvalidArgumentError } from 'commander';

/** A whole number written with digits only (no sign, exponent or fraction). */
function digits(v: string): number | null {
  const n = Number(v);
  return /^\d+$/.test(v.trim()) && Number.isSafeInteger(n) ? n : null;
}

export function deviceOption(v: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(v)) throw new InvalidArgumentError(`expected cpu, cuda or cuda:<index>, got "${v}"`);
  return v;
}

export function positiveInteger(name: string): (v: string) => number {
  return (v) => {
    const n = digits(v);
    if (n === null || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

export function nonNegativeInteger(name: string): (v: string) => number {
  return (v) => {
    const n = digits(v);
    if (n === null) throw new InvalidArgumentError(`${name} must be an integer ≥ 0, got "${v}"`);
    return n;
  };
}

export function integerIn(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = digits(v);
    if (n === null || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got "${v}"`);
    return n;
  };
}

/** A number in [0, max] (a probability with the default max 1). */
export function fraction(name: string, max = 1): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new InvalidArgumentError(`${name} must be a number in [0, ${max}], got "${v}"`);
    return n;
  };
}

/** "a,b, c" → ['a', 'b', 'c']. */
export function list(v: string): string[] {
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list, got "${v}"`);
  return items;
}

/** For repeatable options: each occurrence appends. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
