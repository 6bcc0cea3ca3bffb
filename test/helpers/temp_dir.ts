// Temporary folders for tests. Each test file runs in its own process (ava,
// workerThreads: false), so a folder removed when the process exits lives as
// long as the file's tests, however they end, and nothing piles up in the OS
// temp dir (runs, checkpoints and synthetic sets are large). Not a test file.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a process a failed test left behind still writes there: leave it
    }
  }
});

/** A new empty folder `laxray-<name>-XXXXXX` in the OS temp dir, removed when this process exits. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `laxray-${name}-`));
  made.push(dir);
  return dir;
}
