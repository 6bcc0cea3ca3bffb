// Collects every problem found while validating an input, so one error can
// list them all (capped per kind so a million bad rows stay readable).
import { LaxrayError, type LaxrayErrorCode } from '../errors.js';

const PER_KIND_CAP = 200;

export class Problems {
  private readonly details: string[] = [];
  private readonly perKind = new Map<string, number>();
  total = 0;

  /** Records one problem; `kind` groups problems for the per-kind cap. */
  add(kind: string, message: string): void {
    this.total++;
    const n = (this.perKind.get(kind) ?? 0) + 1;
    this.perKind.set(kind, n);
    if (n <= PER_KIND_CAP) this.details.push(message);
  }

  get empty(): boolean {
    return this.total === 0;
  }

  /** Throws one LaxrayError listing everything recorded, if anything was. */
  throwIfAny(code: LaxrayErrorCode, subject: string, advice: string): void {
    if (this.total === 0) return;
    const details = [...this.details];
    for (const [kind, n] of this.perKind) {
      if (n > PER_KIND_CAP) details.push(`... and ${n - PER_KIND_CAP} more problems of the kind "${kind}"`);
    }
    const first = this.details[0] ?? '';
    throw new LaxrayError(
      code,
      `${subject}: ${this.total} problem${this.total === 1 ? '' : 's'} found (first: ${first}). ${advice}`,
      { details },
    );
  }
}

/** `v` is a finite JSON number. */
export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
