// Atomic writes leave temp files only when a writer is killed; the start-up
// clean-up removes exactly those (writer gone, or this process's own that it
// is not writing now) and never a live writer's or any other file.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { removeStaleTempFiles, tempFileWriter, writeFileAtomic } from '../lib/atomic_file.js';
import { removeStaleRunTempFiles } from '../lib/checkpoint/run_dir.js';
import { tempDir } from './helpers/temp_dir.js';

test('temp file names give their writer', (t) => {
  t.is(tempFileWriter('.iter_5.safetensors.1234.0a1b2c3d.tmp'), 1234);
  t.is(tempFileWriter('metrics.jsonl.77.tmp'), 77);
  t.is(tempFileWriter('iter_5.safetensors'), undefined);
  t.is(tempFileWriter('notes.tmp'), undefined);
  t.is(tempFileWriter('.x.0.0a1b2c3d.tmp'), undefined);
});

test('stale temp files of gone writers and of this process are removed; a live writer\'s and other files stay', async (t) => {
  const run = tempDir('stale');
  mkdirSync(path.join(run, 'checkpoints'));
  mkdirSync(path.join(run, 'report'));
  const gone = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid names no live process
  const live = spawn('sleep', ['60']);
  t.teardown(() => live.kill('SIGKILL'));
  const files = {
    gone: path.join(run, 'checkpoints', `.iter_4.safetensors.${gone}.deadbeef.tmp`),
    goneSimple: path.join(run, 'report', `loss.png.${gone}.tmp`),
    own: path.join(run, 'checkpoints', `.iter_2.json.${process.pid}.0badc0de.tmp`),
    live: path.join(run, 'checkpoints', `.iter_8.safetensors.${live.pid}.12345678.tmp`),
    keep1: path.join(run, 'checkpoints', 'iter_4.safetensors'),
    keep2: path.join(run, 'checkpoints', 'latest.json'),
    keep3: path.join(run, 'notes.tmp'),
  };
  for (const f of Object.values(files)) writeFileSync(f, 'x');
  const removed = await removeStaleRunTempFiles(run);
  t.deepEqual(removed.sort(), [files.gone, files.goneSimple, files.own].sort());
  for (const key of ['live', 'keep1', 'keep2', 'keep3'] as const) t.true(existsSync(files[key]), key);
  t.deepEqual(await removeStaleRunTempFiles(run), [], 'idempotent');
});

test("a write in flight in this process is not a stale temp file", async (t) => {
  const dir = tempDir('inflight');
  const data = Buffer.alloc(64 << 20, 7);
  for (let attempt = 0; attempt < 5; attempt++) {
    const target = path.join(dir, `big${attempt}.bin`);
    const writing = writeFileAtomic(target, data);
    let seen: string | undefined;
    let removed: string[] = [];
    while (seen === undefined) {
      seen = readdirSync(dir).find((n) => n.startsWith(`.big${attempt}.bin.`));
      if (seen !== undefined) removed = await removeStaleTempFiles(dir, 0);
      else await new Promise((r) => setImmediate(r));
      if (existsSync(target)) break;
    }
    await writing;
    if (seen === undefined) continue; // the write finished between two looks: try again
    t.deepEqual(removed, []);
    t.true(readFileSync(target).equals(data));
    return;
  }
  t.fail('never saw the temp file of a 64 MiB write');
});
