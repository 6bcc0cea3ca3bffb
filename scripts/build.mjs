#!/usr/bin/env node
// Builds the addon (node-gyp, driven by binding.gyp; LibTorch from
// scripts/libtorch.mjs) and records what it was built against, so setup can
// tell when a rebuild is due.
//
//   `npm run build:native` (and setup): node-gyp into build/Release, all
//     cores, torch/torch.h precompiled once (binding.gyp's torch_pch action);
//     only what changed is recompiled. node-gyp-build prefers build/Release.
//     With the test hooks (native/bindings/test_hooks/).
//   `npm run prebuildify`: the release binary for prebuilds/<platform>/
//     (prebuildify around the same node-gyp build), without the test hooks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { locateLibTorch } from './libtorch.mjs';
import { nativeSources, testHookSources } from './native-sources.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const buildStampFile = path.join(root, 'build', 'laxray-build.json');
const require = createRequire(import.meta.url);

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}); the output above says why`);
  }
}

/** What must match for an existing build to be reused. */
export function libtorchIdentity(libtorch) {
  return { source: libtorch.source, root: libtorch.root, version: libtorch.version, cuda: libtorch.cuda, gloo: libtorch.gloo, nccl: libtorch.nccl };
}

export function readBuildStamp() {
  try {
    return JSON.parse(readFileSync(buildStampFile, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * binding.gyp's variables, as node-gyp takes them from the environment: the
 * test hooks go into development builds only, never into the release binary.
 */
export function gypVariables({ release }) {
  return { npm_config_laxray_test_hooks: release ? '0' : '1' };
}

// Build against the running Node's own headers: no download (machines here
// have no network), and N-API keeps the binary valid for later Node versions.
function useLocalNodeHeaders() {
  const prefix = path.dirname(path.dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    process.env.npm_config_nodedir = prefix;
  }
}

const nodeGyp = () => path.join(path.dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');

const jobs = () => String(Math.max(1, availableParallelism()));

/**
 * node-gyp into build/Release; reconfigures from scratch when LibTorch
 * changed, and reconfigures when the source list did or build/ was last
 * configured without the test hooks (a release build, which shares build/).
 */
function buildLocal(libtorch, sources, describe) {
  const stamp = readBuildStamp();
  const sameLibTorch = stamp && JSON.stringify(stamp.libtorch) === JSON.stringify(libtorchIdentity(libtorch));
  const configured = existsSync(path.join(root, 'build', 'Makefile'));
  if (!sameLibTorch || !configured) {
    process.stderr.write(`laxray: building the addon against ${describe} with ${jobs()} jobs (a few minutes)\n`);
    if (configured) run(process.execPath, [nodeGyp(), 'clean'], 'cleaning the old addon build');
    run(process.execPath, [nodeGyp(), 'configure'], 'configuring the addon build');
  } else {
    process.stderr.write(`laxray: rebuilding changed native sources against ${describe}\n`);
    if (JSON.stringify(stamp.sources) !== JSON.stringify(sources) || stamp.testHooks !== true) {
      run(process.execPath, [nodeGyp(), 'configure'], 'configuring the addon build');
    }
  }
  run(process.execPath, [nodeGyp(), 'build', '-j', jobs()], 'building the addon (node-gyp)');
  // make leaves the binary untouched when no C++ changed (e.g. only the
  // locator did): mark it current so setup does not rebuild every time.
  const binary = path.join(root, 'build', 'Release', 'laxray.node');
  if (existsSync(binary)) utimesSync(binary, new Date(), new Date());
}

/** The release binary: prebuildify runs node-gyp rebuild and copies the result to prebuilds/. */
function buildRelease(describe) {
  process.stderr.write(`laxray: building the release binary against ${describe} with ${jobs()} jobs\n`);
  const prebuildify = path.join(path.dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  process.env.PREBUILD_NODE_GYP = nodeGyp(); // our node-gyp, not npm's bundled one
  process.env.JOBS = jobs(); // node-gyp's parallel make under prebuildify
  run(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--target', `node@${process.versions.node}`],
    'building the addon (prebuildify/node-gyp)');
}

/** release: prebuilds/ via prebuildify; otherwise build/Release, incrementally. */
export function buildAddon({ release = false } = {}) {
  const libtorch = locateLibTorch();
  useLocalNodeHeaders();
  Object.assign(process.env, gypVariables({ release }));
  const testHooks = !release;
  const sources = testHooks ? [...nativeSources(), ...testHookSources()] : nativeSources();
  const describe = `LibTorch ${libtorch.version} (${libtorch.source}, ${libtorch.cuda ? 'CUDA' : 'CPU'})`;
  if (release) buildRelease(describe);
  else buildLocal(libtorch, sources, describe);
  mkdirSync(path.dirname(buildStampFile), { recursive: true });
  const stamp = { libtorch: libtorchIdentity(libtorch), sources, testHooks, builtAt: new Date().toISOString() };
  writeFileSync(buildStampFile, JSON.stringify(stamp, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildAddon({ release: process.argv.includes('--release') });
  } catch (err) {
    process.stderr.write(`laxray: ${err.message}\n`);
    process.exit(1);
  }
}
