// The addon's first bindings: runtime facts, tensor transfer, an async op, and
// C++ exceptions arriving as JS errors without killing the process.
import test from 'ava';
import { LaxrayError, runtimeInfo, setThreads, type DType } from '../lib/index.js';
import { Tensor, matmul } from '../lib/tensor.js';
import { resolveDeviceName } from '../lib/device.js';

const device = resolveDeviceName(); // LAXRAY_DEVICE=cuda runs the same tests on a GPU

test('runtimeInfo reports the LibTorch version, CUDA state and threads', async (t) => {
  const info = await runtimeInfo();
  t.regex(info.torchVersion, /^\d+\.\d+\.\d+$/);
  if (process.env.LAXRAY_EXPECT_TORCH) t.is(info.torchVersion, process.env.LAXRAY_EXPECT_TORCH);
  t.is(info.devices.length, info.deviceCount);
  if (device.startsWith('cuda')) {
    t.true(info.cudaAvailable);
    t.true(info.deviceCount >= 1);
    t.truthy(info.devices[0]!.name);
  }
  if (!info.cudaAvailable) t.is(info.deviceCount, 0);
  t.true(info.intraOpThreads >= 1);
  t.regex(info.addonFile, /\.node$/);
});

test('setThreads changes the intra-op thread count and rejects nonsense', async (t) => {
  const before = (await runtimeInfo()).intraOpThreads;
  setThreads(1);
  t.is((await runtimeInfo()).intraOpThreads, 1);
  setThreads(before);
  t.is((await runtimeInfo()).intraOpThreads, before);
  t.throws(() => setThreads(-1), { instanceOf: LaxrayError, message: /integer >= 0/ });
});

test('Float32Array, Uint8Array and Int32Array round-trip bit-exactly with their shapes', async (t) => {
  const floats = new Float32Array([0, -1.5, 3.25, Number.MAX_VALUE > 1 ? 3.4e38 : 0, -0, 1e-38]);
  const cases: [Float32Array | Uint8Array | Int32Array, number[], DType][] = [
    [floats, [2, 3], 'float32'],
    [new Uint8Array([0, 1, 127, 128, 255, 7]), [3, 2], 'uint8'],
    [new Int32Array([-2147483648, -1, 0, 1, 2147483647, 42]), [6], 'int32'],
    [new Float32Array(0), [0, 4], 'float32'],
  ];
  for (const [data, shape, dtype] of cases) {
    const tensor = await Tensor.from(data, shape, { device });
    t.deepEqual(tensor.shape, shape);
    t.is(tensor.dtype, dtype);
    t.is(tensor.device.split(':')[0], device.split(':')[0]);
    const back = await tensor.toArray();
    t.deepEqual(back.shape, shape);
    t.is(back.data.constructor, data.constructor);
    t.deepEqual(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
});

test('a tensor owns a copy: changing the source array later does not change it', async (t) => {
  const data = new Float32Array([1, 2, 3, 4]);
  const tensor = await Tensor.from(data, [4], { device });
  data[0] = 99;
  t.deepEqual(Array.from((await tensor.toArray()).data), [1, 2, 3, 4]);
});

test('a typed array view with an offset transfers only its own elements', async (t) => {
  const backing = new Float32Array([9, 9, 1, 2, 3, 4, 9]);
  const view = backing.subarray(2, 6);
  const tensor = await Tensor.from(view, [2, 2], { device });
  t.deepEqual(Array.from((await tensor.toArray()).data), [1, 2, 3, 4]);
});

test('matmul runs on a worker thread and matches a hand-worked product', async (t) => {
  // [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
  const a = await Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], { device });
  const b = await Tensor.from(new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2], { device });
  const pending = matmul(a, b);
  t.true(pending instanceof Promise);
  const product = await (await pending).toArray();
  t.deepEqual(product.shape, [2, 2]);
  t.deepEqual(Array.from(product.data), [4, 5, 10, 11]);
});

test('the event loop keeps running while a large matmul computes', async (t) => {
  const n = 768;
  const a = await Tensor.from(new Float32Array(n * n).fill(1), [n, n], { device });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  let product = await matmul(a, a);
  for (let i = 0; i < 5; i++) product = await matmul(product, a);
  clearInterval(timer);
  t.true(ticks > 0, 'timers fired while tensor work ran');
  t.is(product.shape[0], n);
});

test('a shape mismatch is a JS error naming both shapes, and the next call works', async (t) => {
  const a = await Tensor.from(new Float32Array(6), [2, 3], { device });
  const b = await Tensor.from(new Float32Array(10), [2, 5], { device });
  const error = await t.throwsAsync(matmul(a, b), { instanceOf: LaxrayError });
  t.is(error?.code, 'NATIVE_ERROR');
  t.regex(error!.message, /\[2, 3\]/);
  t.regex(error!.message, /\[2, 5\]/);
  const ok = await (await matmul(a, await Tensor.from(new Float32Array(15).fill(1), [3, 5], { device }))).toArray();
  t.deepEqual(ok.shape, [2, 5]);
});

test('bad transfers are rejected with what was wrong', async (t) => {
  await t.throwsAsync(Tensor.from(new Float32Array(5), [2, 3], { device }), {
    instanceOf: LaxrayError,
    message: /shape \[2, 3\] needs 6 elements but the array holds 5/,
  });
  await t.throwsAsync(Tensor.from(new Float32Array(4), [2, -2], { device }), { instanceOf: LaxrayError, message: /non-negative integer/ });
  await t.throwsAsync(Tensor.from(new Float64Array(4) as unknown as Float32Array, [4]), {
    instanceOf: LaxrayError,
    message: /Float32Array, Uint8Array or Int32Array/,
  });
  await t.throwsAsync(Tensor.from(new Float32Array(4), [4], { device: 'gpu' }), { instanceOf: LaxrayError, message: /unknown device 'gpu'/ });
});

test('asking for CUDA where it is not available says why and what to do', async (t) => {
  const info = await runtimeInfo();
  if (info.cudaAvailable) {
    const moved = await (await Tensor.from(new Float32Array([1, 2]), [2], { device: 'cpu' })).to('cuda');
    t.regex(moved.device, /^cuda/);
    return;
  }
  const error = await t.throwsAsync(Tensor.from(new Float32Array(2), [2], { device: 'cuda' }), { instanceOf: LaxrayError });
  t.regex(error!.message, info.builtWithCuda ? /no CUDA device is visible/ : /CPU-only LibTorch.*LIBTORCH/s);
});
