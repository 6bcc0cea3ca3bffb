// Running the laxray command line in tests: as a user does (bin/laxray.js in
// a child process), or in this process with its output captured (much
// faster; serial tests only). Not a test file.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

export const LAXRAY_BIN = path.join(REPO_ROOT, 'bin', 'laxray.js');

/** How a command ended and what it printed. */
export interface CliOutput {
  /** The exit code; null when a signal ended the process. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ChildRun extends CliOutput {
  signal: NodeJS.Signals | null;
  seconds: number;
}

export interface StartOptions {
  /** Default: this process's working directory. */
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long. Default 4 minutes. */
  timeoutMs?: number;
}

/** Starts `node <args>`: its process, and a promise of how it ended (once its output is read to the end). */
export function startNode(args: readonly string[], options: StartOptions = {}): { child: ChildProcess; done: Promise<ChildRun> } {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
  const done = new Promise<ChildRun>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
  return { child, done };
}

/** Starts `laxray <args>` (bin/laxray.js in a child process). */
export function startLaxray(args: readonly string[], options: StartOptions = {}): { child: ChildProcess; done: Promise<ChildRun> } {
  return startNode([LAXRAY_BIN, ...args], options);
}

/** Runs `laxray <args>` in a child process to its end. */
export function laxray(args: readonly string[], options: StartOptions = {}): Promise<ChildRun> {
  return startLaxray(args, options).done;
}

/** Runs `laxray <args>` in this process (in `cwd` when given), stdout and stderr captured. Serial tests only. */
export async function laxrayInProcess(args: string[], options: { cwd?: string } = {}): Promise<CliOutput & { code: number }> {
  const { main } = await import('../../lib/cli/main.js');
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const text = (chunk: string | Uint8Array): string => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += text(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += text(chunk)), true)) as typeof process.stderr.write;
  const cwd = process.cwd();
  try {
    if (options.cwd !== undefined) process.chdir(options.cwd);
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

/** The JSON objects printed one a line (--json output). */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as T);
}
