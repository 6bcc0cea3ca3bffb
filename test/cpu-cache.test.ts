// The CPU block cache (native/cpu_allocator.h): freed blocks of 256 KiB and
// more are reused by later calls. It must not change a single result (a
// reused block is as uninitialised as a fresh one to every op), must hold at
// most its limit, and bad settings are refused with the setting's name.
import test from 'ava';
import { totalmem } from 'node:os';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { emptyCpuCache, runtimeInfo, setCpuCacheLimit } from '../lib/runtime.js';
import { startNode } from './helpers/cli.js';
import { REPO_ROOT } from './helpers/paths.js';
import { modelBytes, randomBatch, smallConfig, trainingBatch } from './helpers/small-detector.js';

const MiB = 2 ** 20;
const cache = async () => (await runtimeInfo()).cpuCache;

/** Detections of a fresh small detector on one 256×384 batch (its FPN maps are blocks of 1.5 MiB and more). */
async function detectOnce(): Promise<unknown> {
  const detector = await Detector.create({ ...smallConfig(), device: 'cpu' });
  return detector.detect(randomBatch(2, 256, 384));
}

/** Weights and momentum after three training steps of a fresh small detector. */
async function trainThreeSteps(): Promise<Map<string, Buffer>> {
  const detector = await Detector.create({ ...smallConfig(), device: 'cpu' });
  for (let step = 0; step < 3; step++) await detector.trainStep(trainingBatch(2, 256, step + 1), 0.01);
  return modelBytes(detector);
}

test.serial('detections and training are bit-identical with the cache on and off, and later calls reuse blocks', async (t) => {
  setCpuCacheLimit(0);
  const detectionsWithout = await detectOnce();
  const weightsWithout = await trainThreeSteps();
  t.is((await cache()).cachedBytes, 0, 'limit 0 keeps nothing');

  setCpuCacheLimit(512 * MiB);
  const before = await cache();
  const detectionsWith = [await detectOnce(), await detectOnce()];
  const weightsWith = await trainThreeSteps();
  const after = await cache();
  t.deepEqual(detectionsWith[0], detectionsWithout);
  t.deepEqual(detectionsWith[1], detectionsWithout);
  t.deepEqual([...weightsWith.keys()], [...weightsWithout.keys()]);
  for (const [name, bytes] of weightsWith) t.true(bytes.equals(weightsWithout.get(name)!), name);
  t.true(after.hits - before.hits > 100, `blocks were reused (${after.hits - before.hits} hits)`);
  t.true(after.cachedBytes > 0 && after.cachedBytes <= 512 * MiB);
});

test.serial('the cache never holds more than its limit; lowering the limit or emptying it frees blocks', async (t) => {
  setCpuCacheLimit(4 * MiB);
  await detectOnce();
  const small = await cache();
  t.is(small.limitBytes, 4 * MiB);
  t.true(small.cachedBytes <= 4 * MiB, `${small.cachedBytes} bytes cached`);

  setCpuCacheLimit(512 * MiB);
  await detectOnce();
  t.true((await cache()).cachedBytes > 4 * MiB, 'a larger limit keeps more');
  emptyCpuCache();
  t.like(await cache(), { cachedBytes: 0, limitBytes: 512 * MiB });

  await detectOnce();
  setCpuCacheLimit(MiB);
  t.true((await cache()).cachedBytes <= MiB, 'lowering the limit trims at once');
});

test.serial('a full cache makes room for the blocks of a new input size, oldest first, so they are reused', async (t) => {
  // Keeping the old blocks and refusing new ones instead leaves the second size
  // with about 40 % of its blocks from the cache here; evicting the oldest, 78 %.
  setCpuCacheLimit(16 * MiB);
  const detector = await Detector.create({ ...smallConfig(), device: 'cpu' });
  for (let i = 0; i < 2; i++) await detector.detect(randomBatch(2, 768, 1024)); // fills the cache with this size's blocks
  t.true((await cache()).cachedBytes > 12 * MiB, 'the cache is (nearly) full');
  await detector.detect(randomBatch(2, 256, 384));
  const before = await cache();
  await detector.detect(randomBatch(2, 256, 384));
  const after = await cache();
  const hits = after.hits - before.hits;
  const reuse = hits / (hits + after.misses - before.misses);
  t.true(reuse > 0.6, `${(100 * reuse).toFixed(0)} % of the new size's blocks come from the cache`);
  t.true(after.cachedBytes <= 16 * MiB);
});

test('setCpuCacheLimit refuses what is not a byte count', (t) => {
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
    const err = t.throws(() => setCpuCacheLimit(bad), { instanceOf: LaxrayError });
    t.is(err?.code, 'INVALID_ARGUMENT');
    t.regex(err?.message ?? '', /setCpuCacheLimit: bytes must be an integer >= 0/);
  }
});

/** runtimeInfo() in a child process with `env`: its JSON, or the error it printed. */
async function childRuntime(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import('./lib/runtime.ts').then(async (m) => console.log(JSON.stringify((await m.runtimeInfo()).cpuCache)), (e) => { console.error(e.code + ': ' + e.message); process.exitCode = 3; }).catch((e) => { console.error(e.code + ': ' + e.message); process.exitCode = 3; });`;
  return startNode(['--import', 'tsx', '-e', script], { cwd: REPO_ROOT, env }).done;
}

test('LAXRAY_CPU_CACHE_MB sets the limit at load; without it the limit is a quarter of memory; bad values of it and LAXRAY_NUM_THREADS are refused by name', async (t) => {
  const set = await childRuntime({ LAXRAY_CPU_CACHE_MB: '64' });
  t.is(set.code, 0, set.stderr);
  t.is(JSON.parse(set.stdout).limitBytes, 64 * MiB);

  const unset = await childRuntime({ LAXRAY_CPU_CACHE_MB: '' });
  t.is(unset.code, 0, unset.stderr);
  const limit = JSON.parse(unset.stdout).limitBytes as number;
  t.true(limit > 0 && limit <= totalmem() / 4, `default ${limit}`);

  for (const [name, value] of [['LAXRAY_CPU_CACHE_MB', 'lots'], ['LAXRAY_CPU_CACHE_MB', '-5'], ['LAXRAY_NUM_THREADS', 'two']]) {
    const bad = await childRuntime({ [name!]: value! });
    t.is(bad.code, 3, `${name}=${value} is refused`);
    t.regex(bad.stderr, new RegExp(`INVALID_ARGUMENT: ${name}=${value}: expected a whole number of`));
  }
  const huge = await childRuntime({ LAXRAY_NUM_THREADS: '99999999999' });
  t.is(huge.code, 3, 'a thread count beyond int range is refused, not wrapped or ignored');
  t.regex(huge.stderr, /LAXRAY_NUM_THREADS=99999999999: 99999999999 intra-op threads is more than 4 per core/);
});
