// `laxray train --nproc-per-node N [--nnodes M --node-rank R --master-addr
// HOST --master-port P]`: like torchrun, this process becomes the launcher of
// this machine's N workers. Each worker is `node bin/laxray.js train ...`
// (the same arguments minus the launcher's) with the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
//
// The launcher forwards SIGINT / SIGTERM / SIGHUP to its workers (they stop
// after the current step with a checkpoint; a second Ctrl-C ends them at
// once). When a worker fails (non-zero exit, or killed: SIGKILL, OOM killer)
// the launcher names its rank, stops the other workers (SIGTERM, then SIGKILL
// after a grace period) and exits non-zero. Workers run in their own process
// groups, so a terminal's Ctrl-C reaches them once, through the launcher; an
// IPC channel tells a worker when its launcher is gone (watchLauncher).
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { LaxrayError } from '../../errors.js';
import { packageRoot } from '../../native.js';

export interface LaunchOptions {
  /** Workers on this machine. */
  nprocPerNode: number;
  /** Machines in the job (default 1). */
  nnodes?: number;
  /** This machine's index, 0..nnodes−1 (default 0). */
  nodeRank?: number;
  masterAddr: string;
  masterPort: number;
  /** The worker's arguments after `laxray` (e.g. ['train', '--config', 'run.json']). */
  args: readonly string[];
  /** Base environment of the workers (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** After a failure, how long the other workers get between SIGTERM and SIGKILL (default 10 s). */
  graceMs?: number;
  /** Where the launcher's own lines go (default process.stderr). */
  log?: (line: string) => void;
}

/** Marks a worker started by this launcher (it then watches its IPC channel). */
const LAUNCHED_ENV = 'LAXRAY_LAUNCHED';

interface Worker {
  rank: number;
  localRank: number;
  child: ChildProcess;
  exited: boolean;
}

function checkLaunch(o: LaunchOptions): { nnodes: number; nodeRank: number } {
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!int(o.nprocPerNode, 1)) throw new LaxrayError('INVALID_ARGUMENT', `--nproc-per-node must be an integer ≥ 1, got ${o.nprocPerNode}`);
  if (!int(nnodes, 1)) throw new LaxrayError('INVALID_ARGUMENT', `--nnodes must be an integer ≥ 1, got ${nnodes}`);
  if (!int(nodeRank, 0) || nodeRank >= nnodes) {
    throw new LaxrayError('INVALID_ARGUMENT', `--node-rank ${nodeRank} is out of range for --nnodes ${nnodes}: machines are numbered 0..${nnodes - 1}`);
  }
  if (!int(o.masterPort, 1) || o.masterPort > 65535) throw new LaxrayError('INVALID_ARGUMENT', `--master-port must be a TCP port 1..65535, got ${o.masterPort}`);
  if (o.masterAddr.trim() === '') throw new LaxrayError('INVALID_ARGUMENT', '--master-addr is empty: give the host name or address of node 0');
  return { nnodes, nodeRank };
}

/** The torchrun environment of local worker `localRank`. */
export function workerEnv(o: LaunchOptions, localRank: number): NodeJS.ProcessEnv {
  const { nnodes, nodeRank } = checkLaunch(o);
  const base = o.env ?? process.env;
  const env: NodeJS.ProcessEnv = {
    ...base,
    RANK: String(nodeRank * o.nprocPerNode + localRank),
    WORLD_SIZE: String(nnodes * o.nprocPerNode),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(o.nprocPerNode),
    GROUP_RANK: String(nodeRank),
    MASTER_ADDR: o.masterAddr,
    MASTER_PORT: String(o.masterPort),
    [LAUNCHED_ENV]: '1',
  };
  // Share the cores between the workers (torchrun sets OMP_NUM_THREADS=1 for the same reason).
  if (base.LAXRAY_NUM_THREADS === undefined) env.LAXRAY_NUM_THREADS = String(Math.max(1, Math.floor(availableParallelism() / o.nprocPerNode)));
  return env;
}

/** Starts this machine's workers and supervises them; resolves with the launcher's exit code. */
export function launchWorkers(options: LaunchOptions): Promise<number> {
  const { nnodes, nodeRank } = checkLaunch(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`laxray launcher: ${line}\n`));
  const graceMs = options.graceMs ?? 10_000;
  const bin = path.join(packageRoot(), 'bin', 'laxray.js');
  const worldSize = nnodes * options.nprocPerNode;
  log(`starting ${options.nprocPerNode} worker(s) on node ${nodeRank} of ${nnodes} (world size ${worldSize}, rendezvous ${options.masterAddr}:${options.masterPort})`);

  return new Promise((resolve) => {
    const workers: Worker[] = [];
    let failure: string | null = null;
    let interrupts = 0;
    let killTimer: NodeJS.Timeout | undefined;

    const signal = (w: Worker, name: NodeJS.Signals) => {
      if (w.exited || w.child.pid === undefined) return;
      try {
        process.kill(-w.child.pid, name); // the worker's process group: it and anything it started
      } catch {
        w.child.kill(name);
      }
    };
    const stopOthers = () => {
      for (const w of workers) signal(w, 'SIGTERM');
      killTimer = setTimeout(() => workers.forEach((w) => signal(w, 'SIGKILL')), graceMs);
      killTimer.unref();
    };
    const forward = (name: NodeJS.Signals) => () => {
      if (name === 'SIGINT') interrupts++;
      log(`${name}: passing it on to the workers${name === 'SIGINT' && interrupts === 1 ? ' (they stop after the current step with a checkpoint; press Ctrl-C again to end them at once)' : ''}`);
      for (const w of workers) signal(w, name);
    };
    const handlers: [NodeJS.Signals, () => void][] = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((name) => [name, forward(name)]);
    for (const [name, handler] of handlers) process.on(name, handler);

    const finish = () => {
      if (!workers.every((w) => w.exited)) return;
      for (const [name, handler] of handlers) process.removeListener(name, handler);
      if (killTimer) clearTimeout(killTimer);
      if (failure !== null) {
        log(`the job failed: ${failure}`);
        resolve(1);
      } else {
        resolve(interrupts > 0 ? 130 : workers.some((w) => w.child.exitCode !== 0) ? 1 : 0);
      }
    };

    for (let localRank = 0; localRank < options.nprocPerNode; localRank++) {
      const child = spawn(process.execPath, [bin, ...options.args], {
        env: workerEnv(options, localRank),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: true,
      });
      const w: Worker = { rank: nodeRank * options.nprocPerNode + localRank, localRank, child, exited: false };
      workers.push(w);
      child.on('error', (err) => {
        if (failure === null) {
          failure = `rank ${w.rank} could not be started: ${err.message}`;
          stopOthers();
        }
        w.exited = true;
        finish();
      });
      child.on('exit', (code, sig) => {
        w.exited = true;
        const failed = code !== 0 && !(interrupts > 0 && (code === 130 || sig === 'SIGINT'));
        if (failed && failure === null) {
          const how = sig !== null ? `was killed by ${sig}${sig === 'SIGKILL' ? ' (killed, or out of memory)' : ''}` : `exited with code ${code}`;
          failure = `rank ${w.rank} (local rank ${w.localRank}, pid ${child.pid}) ${how}`;
          const others = workers.filter((o) => !o.exited).length;
          log(`${failure}${others > 0 ? `; stopping the other ${others} worker(s) of this node` : ''}`);
          stopOthers();
        }
        finish();
      });
    }
  });
}

/**
 * In a worker started by launchWorkers: exit when the launcher is gone (its
 * IPC channel closes), so no worker outlives its launcher. No-op elsewhere.
 */
export function watchLauncher(): void {
  if (process.env[LAUNCHED_ENV] !== '1' || typeof process.send !== 'function') return;
  process.channel?.unref();
  process.once('disconnect', () => {
    process.stderr.write(`laxray: rank ${process.env.RANK ?? '?'}: the launcher is gone; stopping\n`);
    process.exit(1);
  });
}
