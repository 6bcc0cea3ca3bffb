#!/usr/bin/env node
// Builds the addon with prebuildify (node-gyp under the hood, driven by
// binding.gyp): the binary lands in build/Release and in prebuilds/<platform>/,
// where node-gyp-build finds it first. Records which LibTorch it was built
// against so setup can tell when a rebuild is due.
// `npm run prebuild` runs this; `npm run build` runs it, then tsc into dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { locateLibTorch } from './libtorch.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const buildStampFile = path.join(root, 'build', 'laxray-build.json');

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}); the output above says why`);
  }
}

export function buildAddon() {
  const libtorch = locateLibTorch();
  process.stderr.write(`laxray: building the addon against LibTorch ${libtorch.version} (${libtorch.source}, ${libtorch.cuda ? 'CUDA' : 'CPU'})\n`);
  const require = createRequire(import.meta.url);
  const prebuildify = path.join(path.dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  const nodeGyp = path.join(path.dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
  // PREBUILD_NODE_GYP: use our node-gyp (not npm's bundled one) so builds match `npm run build:native`.
  process.env.PREBUILD_NODE_GYP = nodeGyp;
  // Build against the running Node's own headers: no download (machines here
  // have no network), and N-API keeps the binary valid for later Node versions.
  const prefix = path.dirname(path.dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    process.env.npm_config_nodedir = prefix;
  }
  run(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--target', `node@${process.versions.node}`],
    'building the addon (prebuildify/node-gyp)');
  mkdirSync(path.dirname(buildStampFile), { recursive: true });
  writeFileSync(buildStampFile, JSON.stringify({ libtorch: libtorchIdentity(libtorch), builtAt: new Date().toISOString() }, null, 2));
}

/** What must match for an existing build to be reused. */
export function libtorchIdentity(libtorch) {
  return { source: libtorch.source, root: libtorch.root, version: libtorch.version, cuda: libtorch.cuda };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    buildAddon();
  } catch (err) {
    process.stderr.write(`laxray: ${err.message}\n`);
    process.exit(1);
  }
}
