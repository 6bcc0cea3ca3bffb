// Intra-op threads: one budget per process (setThreads), shared by the calls
// that run tensor work at the same time, so several detectors in one process
// do not start a full OpenMP team each and oversubscribe the cores.
import test from 'ava';
import { native } from '../lib/native.js';
import { runtimeInfo, setThreads } from '../lib/runtime.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('a call alone gets the whole budget; calls running together share it', async (t) => {
  setThreads(4);
  t.is((await runtimeInfo()).intraOpThreads, 4, 'runtimeInfo reports the budget');
  t.is(await native.computeThreadsProbe(0), 4);
  const first = native.computeThreadsProbe(600);
  await sleep(200); // the first is running now
  const second = native.computeThreadsProbe(0);
  t.is(await second, 2, 'two calls at once: 4 / 2 threads for the one that starts second');
  t.is(await first, 4, 'a running call keeps what it started with');
  t.is(await native.computeThreadsProbe(0), 4, 'alone again: the whole budget');
});

test.serial('more calls than threads get one thread each; a new budget reaches the worker threads', async (t) => {
  setThreads(2);
  const long = [native.computeThreadsProbe(700), native.computeThreadsProbe(700)];
  await sleep(250);
  t.is(await native.computeThreadsProbe(0), 1);
  await Promise.all(long);
  setThreads(3);
  t.is(await native.computeThreadsProbe(0), 3);
  setThreads(0);
});
