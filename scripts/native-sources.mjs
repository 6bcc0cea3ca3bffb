#!/usr/bin/env node
// Lists the addon's C++ sources for binding.gyp: every native/**/*.cc, so a new
// model part is built by adding its file, without touching binding.gyp.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function nativeSources() {
  return readdirSync(path.join(root, 'native'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.cc'))
    .map((f) => path.posix.join('native', f.split(path.sep).join('/')))
    .sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(nativeSources().join('\n') + '\n');
}
