// Test hooks (native/bindings/test_hooks/): the bindings only tests call are in
// the development addon (npm run build:native, setup) and left out of the
// release binary (npm run prebuildify), which rejects a call with a LaxrayError.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addonFile, testHookNames } from '../lib/native.js';
import { REPO_ROOT as root } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

const bindingsDir = path.join(root, 'native', 'bindings');
const hooksDir = path.join(bindingsDir, 'test_hooks');

/** The JS names the given C++ files register: exports.Set("name", ...). */
function registeredNames(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cc'));
  return files.flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/exports\.Set\("(\w+)"/g)].map((m) => m[1]!));
}

test('the test hooks are exactly what native/bindings/test_hooks/ registers, and no production file registers one', (t) => {
  t.deepEqual(registeredNames(hooksDir).sort(), [...testHookNames].sort());
  const production = registeredNames(bindingsDir);
  t.true(production.includes('boxIou'), 'the production files were read');
  t.deepEqual(production.filter((name) => (testHookNames as readonly string[]).includes(name)), []);
});

test('the development addon exports every test hook', (t) => {
  const addon = createRequire(import.meta.url)(addonFile()) as Record<string, unknown>;
  for (const name of testHookNames) t.is(typeof addon[name], 'function', `${name} in ${addonFile()}`);
});

test('with a release addon, a test hook rejects with a LaxrayError that says how to get one', (t) => {
  const stub = path.join(root, 'test', 'fixtures', 'release-addon.cjs');
  const script = `
    import { native } from ${JSON.stringify(pathToFileURL(path.join(root, 'lib', 'native.ts')).href)};
    const outcomes = [];
    for (const call of [() => native.headCheck({}, 'cpu'), () => native.computeThreadsProbe(0), () => native.labelAwareClsLevels([], new Float32Array(0), [0, 0], new Float32Array(0), 1, 1, 1)]) {
      const pending = call();
      outcomes.push(await pending.then(() => 'resolved', (e) => ({ promise: pending instanceof Promise, name: e.name, code: e.code, message: e.message })));
    }
    process.stdout.write(JSON.stringify(outcomes));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, LAXRAY_ADDON_PATH: stub },
  });
  const outcomes = JSON.parse(out.toString()) as { promise: boolean; name: string; code: string; message: string }[];
  t.is(outcomes.length, 3);
  for (const [i, name] of ['headCheck', 'computeThreadsProbe', 'labelAwareClsLevels'].entries()) {
    const outcome = outcomes[i]!;
    t.true(outcome.promise, `${name} returns a Promise`);
    t.is(outcome.name, 'LaxrayError');
    t.is(outcome.code, 'NATIVE_LOAD_FAILED');
    t.is(
      outcome.message,
      `${name}: the addon at ${stub} was built without test hooks (release build); ` +
        'build with npm run build:native (the tests need a development build)',
    );
  }
});

/** The JS module's exports (scripts/*.mjs, which carry no TypeScript types). */
async function importScript<T>(name: string): Promise<T> {
  return (await import(pathToFileURL(path.join(root, 'scripts', name)).href)) as T;
}

/**
 * node-gyp configure (no compiling) of a copy of binding.gyp and scripts/ in a
 * temporary folder, with the given environment; -> the target's makefile.
 */
function configuredMakefile(env: Record<string, string>): string {
  const dir = tempDir('gyp');
  cpSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  cpSync(path.join(root, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
  symlinkSync(path.join(root, 'native'), path.join(dir, 'native'));
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const nodeGyp = path.join(path.dirname(createRequire(import.meta.url).resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
  // The running Node's headers when installed (no download), as scripts/build.mjs does.
  const prefix = path.dirname(path.dirname(process.execPath));
  const nodedir = existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {};
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.toLowerCase() !== 'npm_config_laxray_test_hooks'));
  execFileSync(process.execPath, [nodeGyp, 'configure'], { cwd: dir, env: { ...clean, ...nodedir, ...env }, stdio: 'pipe' });
  return readFileSync(path.join(dir, 'build', 'laxray.target.mk'), 'utf8');
}

test('the release build and a plain node-gyp build leave the test hooks out (node-gyp configure, no compiling)', async (t) => {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  t.is(scripts['build:native'], 'node scripts/build.mjs', 'build:native: a development build');
  t.is(scripts.prebuildify, 'node scripts/build.mjs --release', 'prebuildify: the release build');
  const { gypVariables } = await importScript<{ gypVariables(o: { release: boolean }): Record<string, string> }>('build.mjs');
  const { nativeSources, testHookSources } = await importScript<{ nativeSources(): string[]; testHookSources(): string[] }>(
    'native-sources.mjs',
  );
  const hooks = testHookSources();
  t.deepEqual(hooks.map((f) => path.basename(f)).sort(), readdirSync(hooksDir).filter((f) => f.endsWith('.cc')).sort());
  const objectOf = (source: string) => `$(obj).target/$(TARGET)/${source.replace(/\.cc$/, '.o')}`;
  t.deepEqual(gypVariables({ release: false }), { npm_config_laxray_test_hooks: '1' }, 'development builds add the hooks');
  // The development side is the addon these tests load (above); configure the two builds without hooks.
  const builds: [string, Record<string, string>][] = [
    ['release (prebuildify)', gypVariables({ release: true })],
    ['plain node-gyp (an install from source)', {}],
  ];
  for (const [what, env] of builds) {
    const objects = new Set(configuredMakefile(env).split(/\s+/));
    for (const source of nativeSources()) t.true(objects.has(objectOf(source)), `${what}: ${source}`);
    for (const source of hooks) t.false(objects.has(objectOf(source)), `${what}: ${source}`);
  }
});
