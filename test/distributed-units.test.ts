// The pure parts of data-parallel training: the torchrun environment and its
// errors, the sharding of an epoch (against PyTorch's DistributedSampler and
// the single-process batching it must reproduce), the worker command line and
// environment the launcher makes.
import test from 'ava';
import { DataLoader, type Dataset } from '../lib/data/index.js';
import { epochLength, shardBatches } from '../lib/data/shard.js';
import { LaxrayError } from '../lib/errors.js';
import { workerArgs } from '../lib/cli/commands/train.js';
import { workerEnv } from '../lib/train/distributed/launcher.js';
import { resolveDistributed, workerDevice } from '../lib/train/distributed/settings.js';

const env = (vars: Record<string, string>) => ({ ...vars });

test('resolveDistributed: the torchrun environment, with the documented defaults', (t) => {
  t.is(resolveDistributed({}, 'cpu', env({})), null);
  t.is(resolveDistributed({}, 'cpu', env({ WORLD_SIZE: '1', RANK: '0' })), null);
  t.deepEqual(resolveDistributed({}, 'cpu', env({ WORLD_SIZE: '4', RANK: '3' })), {
    rank: 3,
    worldSize: 4,
    localRank: 3,
    localWorldSize: 4,
    masterAddr: '127.0.0.1',
    masterPort: 29500,
    backend: 'gloo',
    timeoutMs: 60_000,
  });
  const s = resolveDistributed({}, 'cuda', env({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '1234' }))!;
  t.like(s, { rank: 3, localRank: 1, localWorldSize: 2, masterAddr: 'node0', masterPort: 1234, backend: 'nccl' });
  t.is(workerDevice('cuda', s), 'cuda:1');
  t.is(workerDevice('cpu', s), 'cpu');
  // explicit options win over the environment
  t.like(resolveDistributed({ rank: 0, worldSize: 2, timeoutMs: 5000 }, 'cpu', env({ WORLD_SIZE: '8', RANK: '5' })), { rank: 0, worldSize: 2, timeoutMs: 5000 });
});

test('resolveDistributed: each bad setting is an INVALID_ARGUMENT naming it', (t) => {
  const bad = (options: Parameters<typeof resolveDistributed>[0], vars: Record<string, string>, pattern: RegExp, device = 'cpu') => {
    const err = t.throws(() => resolveDistributed(options, device, env(vars)), { instanceOf: LaxrayError });
    t.is(err?.code, 'INVALID_ARGUMENT');
    t.regex(err?.message ?? '', pattern);
  };
  bad({}, { WORLD_SIZE: '0', RANK: '0' }, /WORLD_SIZE must be an integer ≥ 1, got "0"/);
  bad({ worldSize: 0 }, {}, /distributed\.worldSize must be an integer ≥ 1/);
  bad({}, { WORLD_SIZE: '2', RANK: '2' }, /RANK 2 is out of range for WORLD_SIZE 2: ranks are 0\.\.1/);
  bad({}, { WORLD_SIZE: '2' }, /RANK is not set/);
  bad({}, { WORLD_SIZE: 'two', RANK: '0' }, /WORLD_SIZE must be an integer/);
  bad({}, { WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '70000' }, /MASTER_PORT must be an integer in 1\.\.65535/);
  bad({}, { WORLD_SIZE: '4', RANK: '0', LOCAL_RANK: '2', LOCAL_WORLD_SIZE: '2' }, /LOCAL_RANK 2 is out of range for LOCAL_WORLD_SIZE 2/);
  bad({ backend: 'gloo' }, { WORLD_SIZE: '2', RANK: '0' }, /'gloo' reduces CPU tensors but this run trains on cuda:0/, 'cuda:0');
  bad({ backend: 'nccl' }, { WORLD_SIZE: '2', RANK: '0' }, /'nccl' reduces CUDA tensors but this run trains on cpu/);
  bad({}, { WORLD_SIZE: '2', RANK: '0', LAXRAY_DIST_BACKEND: 'mpi' }, /LAXRAY_DIST_BACKEND must be 'gloo' or 'nccl'/);
});

test('shardBatches: PyTorch DistributedSampler semantics (padding by wrapping, rank r takes every W-th position)', (t) => {
  // n = 5, W = 2, batch 2: padded to 6 positions [0 1 2 3 4 0]; global batches [0..4) and [4..6)
  t.is(epochLength(5, 2), 6);
  t.deepEqual(shardBatches(5, 2, { rank: 0, worldSize: 2 }), [
    { start: 0, end: 4, positions: [0, 2] },
    { start: 4, end: 6, positions: [4] },
  ]);
  t.deepEqual(shardBatches(5, 2, { rank: 1, worldSize: 2 }), [
    { start: 0, end: 4, positions: [1, 3] },
    { start: 4, end: 6, positions: [0] },
  ]);
  // DistributedSampler: indices[rank::W] of the padded list, then batches of 2 per rank
  const padded = [0, 1, 2, 3, 4, 0];
  for (const rank of [0, 1]) {
    const mine = padded.filter((_, k) => k % 2 === rank);
    t.deepEqual(shardBatches(5, 2, { rank, worldSize: 2 }).flatMap((b) => b.positions), mine);
  }
  t.throws(() => shardBatches(5, 2, { rank: 2, worldSize: 2 }), { message: /shard\.rank must be an integer in 0\.\.1/ });
});

test('shardBatches: the ranks of batch b together are the single-process batch b of batchSize × W', (t) => {
  for (const [n, batch, world] of [
    [40, 2, 2],
    [37, 3, 4],
    [12, 1, 3],
  ] as const) {
    const single = shardBatches(n, batch * world, { rank: 0, worldSize: 1 });
    const perRank = Array.from({ length: world }, (_, rank) => shardBatches(n, batch, { rank, worldSize: world }));
    for (let b = 0; b < perRank[0]!.length; b++) {
      const union = perRank.flatMap((batches) => batches[b]!.positions).sort((x, y) => x - y);
      const { start, end } = perRank[0]![b]!;
      if (end <= n) t.deepEqual(union, single[b]!.positions.slice().sort((x, y) => x - y), `n ${n}, W ${world}, batch ${b}`);
      t.true(perRank.every((batches) => batches[b]!.positions.length === perRank[0]![b]!.positions.length), 'every rank gets as many images');
      t.is(union.length, end - start);
    }
  }
});

test('shardBatches: resuming at a global position with another world size keeps equal shares and skips what was consumed', (t) => {
  // 4 processes consumed 8 of 21 positions; 3 processes continue from position 8
  const consumed = 8;
  const perRank = [0, 1, 2].map((rank) => shardBatches(21, 2, { rank, worldSize: 3 }, { startImage: consumed }));
  t.is(epochLength(21, 3, consumed), 8 + 15);
  const all = perRank.flatMap((batches) => batches.flatMap((b) => b.positions)).sort((a, b) => a - b);
  t.deepEqual(all, Array.from({ length: 13 }, (_, k) => k + 8).concat([0, 1]).sort((a, b) => a - b), 'positions 8..20 once, padded by 0 and 1');
  for (let b = 0; b < perRank[0]!.length; b++) t.true(perRank.every((batches) => batches[b]!.positions.length === perRank[0]![b]!.positions.length));
});

test('DataLoader.plan with one process is unchanged by sharding; with W processes it is the shard of the same permutation', (t) => {
  const images = Array.from({ length: 9 }, (_, i) => ({ id: i + 1, path: `/nonexistent/${i}.png`, fileName: `${i}.png`, width: 8, height: 8, annotations: { ids: [i], boxes: new Float64Array(4), labels: new Int32Array(1), categoryIds: [1], areas: [1], ignore: [false], extra: [{}] } }));
  const dataset = { images, categories: [{ id: 1, name: 'a' }], numClasses: 1, labelToCategoryId: [1], imageRoot: '/nonexistent', source: 'test' } as unknown as Dataset;
  const single = new DataLoader(dataset, { batchSize: 4, seed: 3, workers: 0 });
  const shards = [0, 1].map((rank) => new DataLoader(dataset, { batchSize: 2, seed: 3, workers: 0, shard: { rank, worldSize: 2 } }));
  const plan = single.plan(1);
  t.deepEqual(plan.map((b) => b.items.length), [4, 4, 1]);
  t.is(shards[0]!.length, 3);
  t.is(shards[0]!.globalBatchSize, 4);
  const sharded = shards.map((l) => l.plan(1));
  for (let b = 0; b < 2; b++) {
    const union = [...sharded[0]![b]!.items, ...sharded[1]![b]!.items].map((i) => `${i.image.id}:${i.flip}`).sort();
    t.deepEqual(union, plan[b]!.items.map((i) => `${i.image.id}:${i.flip}`).sort());
  }
  // the last global batch: position 8 and the padding (position 0, the epoch's first image)
  t.deepEqual([sharded[0]![2]!.items[0]!.image.id, sharded[1]![2]!.items[0]!.image.id], [plan[2]!.items[0]!.image.id, plan[0]!.items[0]!.image.id]);
  for (const l of [single, ...shards]) void l.close();
});

test('workerArgs: the launcher flags (and their values) are left out of the workers\' command line', (t) => {
  t.deepEqual(
    workerArgs(['train', '--config', 'c.json', '--nproc-per-node', '2', '--nnodes=2', '--node-rank', '1', '--master-addr', 'h', '--master-port=123', '--max-iters', '5']),
    ['train', '--config', 'c.json', '--max-iters', '5'],
  );
});

test('workerEnv: the torchrun variables of each local worker', (t) => {
  const e = workerEnv({ nprocPerNode: 2, nnodes: 3, nodeRank: 2, masterAddr: 'node0', masterPort: 4000, args: [], env: { LAXRAY_NUM_THREADS: '1' } }, 1);
  t.like(e, { RANK: '5', WORLD_SIZE: '6', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '4000', LAXRAY_NUM_THREADS: '1' });
  t.throws(() => workerEnv({ nprocPerNode: 2, nnodes: 2, nodeRank: 2, masterAddr: 'h', masterPort: 1, args: [] }, 0), { message: /--node-rank 2 is out of range for --nnodes 2/ });
});
