#!/usr/bin/env node
// One-command set-up for a fresh clone, using Node built-ins only (it runs
// before node_modules exists). Idempotent and fast when nothing changed:
//   1. LibTorch: found by scripts/libtorch.mjs; on Debian as root, installs
//      libtorch-dev with apt-get when none is found; otherwise says what to do.
//   2. npm dependencies: `npm ci` when node_modules is missing or older than
//      package-lock.json.
//   3. The addon: built when missing, older than its sources, built against
//      another LibTorch, or left in build/ by a release build (no test hooks).
// `npm test`, `npm run demo` and `npm run bench` run it first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LibTorchNotFound, locateLibTorch } from './libtorch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`laxray setup: ${line}\n`);

class SetupError extends Error {}

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Newest modification time among files under `dir` (recursive) matching `keep`. */
function newestUnder(dir, keep = () => true) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && keep(entry.name)) newest = Math.max(newest, mtime(path.join(entry.parentPath ?? entry.path, entry.name)));
  }
  return newest;
}

function run(command, args, what) {
  say(`${what}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new SetupError(`${what} could not start ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new SetupError(`${what} failed (exit ${result.status ?? result.signal}); see the output above`);
}

const canApt = () => existsSync('/etc/debian_version') && typeof process.getuid === 'function' && process.getuid() === 0;

function ensureLibTorch() {
  let libtorch;
  try {
    libtorch = locateLibTorch();
  } catch (err) {
    if (!(err instanceof LibTorchNotFound)) throw err;
    if (process.env.LIBTORCH || !canApt()) throw new SetupError(err.message);
    run('apt-get', ['update'], 'installing LibTorch (Debian libtorch-dev)');
    run('apt-get', ['install', '-y', '--no-install-recommends', 'libtorch-dev', 'libgloo-dev'], 'installing LibTorch (Debian libtorch-dev)');
    return locateLibTorch();
  }
  // Debian's LibTorch has c10d's Gloo backend compiled in, but Gloo's headers
  // (needed to build distributed training) come in a separate package.
  if (!libtorch.gloo && libtorch.source === 'Debian libtorch-dev') {
    if (!canApt()) {
      say('distributed training is left out of the build: Gloo headers are missing (apt-get install libgloo-dev)');
      return libtorch;
    }
    const what = 'installing Gloo headers for distributed training (Debian libgloo-dev)';
    try {
      run('apt-get', ['install', '-y', '--no-install-recommends', 'libgloo-dev'], what);
    } catch {
      run('apt-get', ['update'], what); // a fresh machine has no package lists yet
      run('apt-get', ['install', '-y', '--no-install-recommends', 'libgloo-dev'], what);
    }
    return locateLibTorch();
  }
  return libtorch;
}

function ensureNodeModules() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && mtime(installed) >= mtime(path.join(root, 'package-lock.json'))) return false;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // --ignore-scripts: our own install script would build the addon before
  // step 3 decides whether that is needed; the dependencies ship binaries.
  run(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], 'installing npm dependencies');
  return true;
}

async function ensureAddon(libtorch) {
  const { buildAddon, libtorchIdentity, readBuildStamp } = await import('./build.mjs');
  // The binary node-gyp-build loads: build/Release (incremental builds) wins over prebuilds/.
  const local = mtime(path.join(root, 'build', 'Release', 'laxray.node'));
  const prebuilt = newestUnder(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`), (f) => f.endsWith('.node'));
  const binaryTime = local || prebuilt;
  const sourcesTime = Math.max(
    newestUnder(path.join(root, 'native')),
    mtime(path.join(root, 'binding.gyp')),
    mtime(path.join(root, 'scripts', 'libtorch.mjs')),
  );
  const stamp = readBuildStamp();
  let reason = null;
  if (binaryTime === 0) reason = 'the addon is not built yet';
  else if (stamp && JSON.stringify(stamp.libtorch) !== JSON.stringify(libtorchIdentity(libtorch))) {
    reason = `LibTorch changed (built for ${stamp.libtorch.source} ${stamp.libtorch.version}, now ${libtorch.source} ${libtorch.version})`;
  } else if (binaryTime < sourcesTime) reason = 'native sources changed since the last build';
  else if (local && stamp?.testHooks === false) reason = 'build/Release holds the release binary (npm run prebuildify), without the test hooks';
  if (!reason) return false;
  say(`building the addon: ${reason}`);
  buildAddon();
  return true;
}

try {
  const started = Date.now();
  const libtorch = ensureLibTorch();
  const installed = ensureNodeModules();
  const built = await ensureAddon(libtorch);
  if (installed || built || process.argv.includes('--verbose')) {
    say(`ready: LibTorch ${libtorch.version} (${libtorch.source}${libtorch.cuda ? ', CUDA' : ''}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
} catch (err) {
  say(err instanceof SetupError ? err.message : `failed: ${err.stack ?? err}`);
  process.exit(1);
}
