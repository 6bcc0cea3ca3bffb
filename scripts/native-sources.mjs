#!/usr/bin/env node
// Lists the addon's C++ sources for binding.gyp: every native/**/*.cc, so a new
// model part is built by adding its file, without touching binding.gyp.
// native/bindings/test_hooks/ (bindings only tests call) is listed apart
// (`--test-hooks`): binding.gyp adds it to development builds only.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const testHooksDir = 'native/bindings/test_hooks/';

function allSources() {
  return readdirSync(path.join(root, 'native'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.cc'))
    .map((f) => path.posix.join('native', f.split(path.sep).join('/')))
    .sort();
}

/** The sources of every build (the release binary's). */
export function nativeSources() {
  return allSources().filter((f) => !f.startsWith(testHooksDir));
}

/** The test hooks' sources, added by development builds (binding.gyp's laxray_test_hooks). */
export function testHookSources() {
  return allSources().filter((f) => f.startsWith(testHooksDir));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sources = process.argv.includes('--test-hooks') ? testHookSources() : nativeSources();
  process.stdout.write(sources.join('\n') + '\n');
}
