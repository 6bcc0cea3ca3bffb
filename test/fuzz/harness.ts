// Runs a fuzz target with fast-check and checks the invariant on every input:
// it loads (and the target's own check of the result holds) or it is refused
// with a LaxrayError carrying one of the target's codes — never another
// exception, never longer than `caseMs`, never a process past `rssLimit`
// bytes. A failing input (shrunk by fast-check) is saved under
// test/fixtures/fuzz/<target>/, where test/fuzz-parsers.test.ts replays it.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../../lib/errors.js';
import { fixture } from '../helpers/paths.js';
import type { FuzzTarget } from './targets.js';

export const FIXTURES = fixture('fuzz');

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Longest one input may take (ms). */
  caseMs?: number;
  /** Largest resident set size the process may reach (bytes). */
  rssLimit?: number;
  /** Stop generating after this long (ms); the runs done so far count. */
  timeLimitMs?: number;
  /** Save failing inputs as fixtures (default true). */
  save?: boolean;
}

export interface FuzzReport {
  target: string;
  seed: number;
  runs: number;
  loaded: number;
  refused: Record<string, number>;
  ms: number;
  /** Path of the saved failing input and what went wrong; null when every input held. */
  failure: { file: string | null; message: string } | null;
}

export type Outcome = { kind: 'loaded' } | { kind: 'refused'; code: string };

/** One input through the target; throws an Error describing the violation when the invariant does not hold. */
export async function checkInput(target: FuzzTarget, bytes: Uint8Array, limits: { caseMs?: number; rssLimit?: number } = {}): Promise<Outcome> {
  const caseMs = limits.caseMs ?? 10_000;
  const started = performance.now();
  let outcome: Outcome;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      target.run(bytes),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: no answer after ${caseMs} ms`)), caseMs);
      }),
    ]);
    outcome = { kind: 'loaded' };
  } catch (err) {
    if (!(err instanceof LaxrayError)) throw new Error(`crash: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (!target.codes.includes(err.code)) throw new Error(`refused with code ${err.code}, expected one of ${target.codes.join(', ')}: ${err.message}`);
    if (err.message.length === 0 || err.message.length > 100_000) throw new Error(`a refusal message of ${err.message.length} characters`);
    outcome = { kind: 'refused', code: err.code };
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  if (ms > caseMs) throw new Error(`slow: ${ms.toFixed(0)} ms for one input (bound ${caseMs} ms)`);
  const rss = process.memoryUsage.rss();
  if (rss > (limits.rssLimit ?? 2 ** 31)) throw new Error(`memory: the process holds ${(rss / 2 ** 20).toFixed(0)} MiB after this input`);
  return outcome;
}

/** Writes a failing input under test/fixtures/fuzz/<target>/<sha1>.bin; returns its path. */
export function saveFixture(target: string, bytes: Uint8Array): string {
  const dir = path.join(FIXTURES, target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha1').update(bytes).digest('hex').slice(0, 16)}.bin`);
  if (!existsSync(file)) writeFileSync(file, bytes);
  return file;
}

/** The saved inputs of a target (regression fixtures). */
export function savedFixtures(target: string): { file: string; bytes: Uint8Array }[] {
  const dir = path.join(FIXTURES, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.bin'))
    .sort()
    .map((n) => ({ file: path.join(dir, n), bytes: new Uint8Array(readFileSync(path.join(dir, n))) }));
}

export async function fuzz(target: FuzzTarget, options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const seeds = await target.seeds();
  let loaded = 0;
  const refused: Record<string, number> = {};
  const details = await fc.check(
    fc.asyncProperty(target.inputs(seeds), async (bytes) => {
      const outcome = await checkInput(target, bytes, options);
      if (outcome.kind === 'loaded') loaded++;
      else refused[outcome.code] = (refused[outcome.code] ?? 0) + 1;
    }),
    { numRuns: options.runs, seed: options.seed, ...(options.timeLimitMs !== undefined ? { interruptAfterTimeLimit: options.timeLimitMs } : {}) },
  );
  let failure: FuzzReport['failure'] = null;
  if (details.failed) {
    const bytes = details.counterexample?.[0];
    const file = bytes !== undefined && options.save !== false ? saveFixture(target.name, bytes) : null;
    const message = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    failure = { file, message: `${message} (seed ${details.seed}, path ${details.counterexamplePath})` };
  }
  return { target: target.name, seed: options.seed, runs: details.numRuns, loaded, refused, ms: Math.round(performance.now() - started), failure };
}
