// Fault tests of the checkpoint path with the real network:
//  - SIGKILL at random moments of a training run that writes a checkpoint
//    every iteration, again and again: latest.json always names a complete
//    checkpoint, --resume continues from it, temp files of killed writes do
//    not pile up (each start removes the dead writers' ones);
//  - a full disk (a small tmpfs as the run directory): a clear IO_ERROR
//    naming ENOSPC, the previous checkpoint intact and still named by
//    latest.json, no temp file left behind.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { encodeSafetensors, readSafetensors } from '../lib/checkpoint/safetensors.js';
import { resolveConfig } from '../lib/config/index.js';
import { loadCocoDataset } from '../lib/data/index.js';
import { mulberry32 } from '../lib/data/random.js';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { readLatestCheckpoint, readRunConfig, Trainer } from '../lib/train/index.js';
import { tinySetup } from './fixtures/faults/tiny.js';
import { LAXRAY_BIN } from './helpers/cli.js';
import { tempDir } from './helpers/temp_dir.js';

const tempFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.tmp')) : []);

/** latest.json names a checkpoint whose three files are complete: returns its iteration. */
async function completeCheckpoint(runDir: string): Promise<number> {
  const latest = await readLatestCheckpoint(runDir);
  const weights = await readSafetensors(latest.files.weights);
  const optimizer = await readSafetensors(latest.files.optimizer); // no momentum yet at iteration 0
  if (Object.keys(weights.tensors).length === 0) throw new Error('a checkpoint without weights');
  if (latest.state.iteration > 0 && Object.keys(optimizer.tensors).length === 0) throw new Error('a checkpoint without momentum buffers');
  return latest.state.iteration;
}

interface Child {
  /** Resolves at the first line of stdout that matches. */
  waitFor(re: RegExp): Promise<string>;
  exit: Promise<number | null>;
  kill(): void;
  stderr(): string;
}

function train(args: string[]): Child {
  const child = spawn(process.execPath, [LAXRAY_BIN, 'train', '--json', '--no-progress', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      for (const w of waiters.splice(0)) (w.re.test(line) ? w.resolve(line) : waiters.push(w));
    }
  });
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    waitFor: (re) => new Promise((resolve, reject) => {
      waiters.push({ re, resolve });
      void exit.then(() => reject(new Error(`the run ended before ${re}: ${err.slice(-2000)}`)));
    }),
    exit,
    kill: () => child.kill('SIGKILL'),
    stderr: () => err,
  };
}

test.serial('SIGKILL during checkpoint writes, again and again: latest.json always names a complete checkpoint, resume continues, temp files do not pile up', async (t) => {
  const { configFile, dir } = await tinySetup();
  const runDir = path.join(dir, 'killed-run');
  const checkpoints = path.join(runDir, 'checkpoints');
  const seed = Number(process.env.LAXRAY_FAULT_SEED ?? 4242);
  const random = mulberry32(seed);
  const kills = Number(process.env.LAXRAY_FAULT_KILLS ?? 5);
  t.log(`seed ${seed}, ${kills} kills`);
  let last = -1;
  let leftBehind: string[] = [];
  for (let k = 0; k < kills; k++) {
    const child = train(existsSync(path.join(checkpoints, 'latest.json')) ? ['--run-dir', runDir, '--resume'] : ['--config', configFile, '--run-dir', runDir]);
    await child.waitFor(/"type":"iteration"/);
    // each start first removes the temp files the previous kill left
    t.deepEqual(tempFiles(checkpoints).filter((f) => leftBehind.includes(f)), [], `start ${k} removed ${leftBehind}`);
    if (k % 2 === 1) {
      // odd kills: the moment a checkpoint file is being written
      for (let i = 0; i < 6000 && tempFiles(checkpoints).length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    } else {
      // even kills: after 0-2 more checkpoints, somewhere in the next step or checkpoint write
      for (let n = Math.floor(random() * 3); n > 0; n--) await child.waitFor(/"type":"checkpoint"/);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 1000)));
    }
    child.kill();
    await child.exit;
    const iteration = await completeCheckpoint(runDir);
    leftBehind = tempFiles(checkpoints);
    t.true(iteration >= last, `kill ${k}: checkpoint iteration ${iteration} after ${last}`);
    t.true(leftBehind.length <= 1, `kill ${k} left ${leftBehind}`);
    if (k % 2 === 1) t.is(leftBehind.length, 1, `kill ${k} landed in a write`);
    t.log(`kill ${k}: latest checkpoint at iteration ${iteration}, temp files left ${leftBehind.length}`);
    last = iteration;
  }
  // resume runs on from the last complete checkpoint and finishes cleanly
  const final = train(['--run-dir', runDir, '--resume', '--max-iters', String(last + 2)]);
  const first = JSON.parse(await final.waitFor(/"type":"iteration"/)) as { iteration: number };
  t.is(first.iteration, last + 1, 'the resumed run continues after the checkpoint');
  t.is(await final.exit, 0, final.stderr());
  t.is(await completeCheckpoint(runDir), last + 2);
  t.deepEqual(tempFiles(checkpoints), [], 'no temp file left');
  t.deepEqual(tempFiles(runDir), []);
});

/** Mounts a tmpfs of `bytes` at a new folder; null (with the reason) where mounting is impossible. */
function mountTmpfs(bytes: number): { dir: string; unmount: () => void } | { reason: string } {
  const dir = tempDir('full');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 4096) * 4096}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    return { reason: `cannot mount a tmpfs (${((err as { stderr?: Buffer }).stderr?.toString() ?? String(err)).trim()}); this test needs root or CAP_SYS_ADMIN` };
  }
  return { dir, unmount: () => execFileSync('umount', ['-l', dir]) };
}

test.serial('a full disk: a clear IO_ERROR naming the lack of space, the previous checkpoint intact and named, no temp file left', async (t) => {
  const { config: input } = await tinySetup();
  const train = await loadCocoDataset((input.data!.train as { annotations: string }).annotations);
  const config = resolveConfig(input, { classes: train.categories.map((c) => c.name) });
  const detector = await Detector.create(config);
  // room for checkpoint 0 (weights + optimizer + state) and half of the next weights file
  const weights = encodeSafetensors(await detector.stateDict()).length;
  const optimizer = encodeSafetensors(await detector.optimizerState()).length;
  const mounted = mountTmpfs(weights + optimizer + weights / 2 + 256 * 1024);
  if ('reason' in mounted) {
    t.log(`skipped: ${mounted.reason}`);
    t.pass();
    return;
  }
  t.teardown(mounted.unmount);
  const runDir = path.join(mounted.dir, 'run');
  mkdirSync(runDir);
  const trainer = new Trainer({ detector, config, train, runDir, maxIterations: 5 });
  const err = await t.throwsAsync(trainer.run(), { instanceOf: LaxrayError });
  t.is(err!.code, 'IO_ERROR', err!.message);
  t.regex(err!.message, /no space left on the device/);
  t.regex(err!.message, /iter_1/);
  t.is(await completeCheckpoint(runDir), 0, 'checkpoint 0 intact and still latest');
  t.deepEqual(readRunConfig(runDir), config, 'config.json intact');
  t.deepEqual(tempFiles(path.join(runDir, 'checkpoints')), []);
  t.deepEqual(tempFiles(runDir), []);
  t.log(`tmpfs of ${((weights + optimizer + weights / 2) / 2 ** 20).toFixed(1)} MiB; weights ${(weights / 2 ** 20).toFixed(1)} MiB, optimizer ${(optimizer / 2 ** 20).toFixed(1)} MiB`);
});
