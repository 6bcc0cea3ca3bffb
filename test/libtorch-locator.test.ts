// scripts/libtorch.mjs: where LibTorch comes from and which flags the build gets.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

const locator = path.join(REPO_ROOT, 'scripts', 'libtorch.mjs');

/** A fake libtorch distribution with the files the locator looks for. */
function fakeLibTorch(options: { cuda: boolean; cxx11: boolean }): string {
  const dir = tempDir('libtorch');
  const api = path.join(dir, 'include', 'torch', 'csrc', 'api', 'include', 'torch');
  mkdirSync(api, { recursive: true });
  writeFileSync(path.join(api, 'torch.h'), '// fake\n');
  writeFileSync(path.join(api, 'version.h'), '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 11\n#define TORCH_VERSION_PATCH 0\n');
  mkdirSync(path.join(dir, 'lib'));
  for (const lib of ['torch', 'torch_cpu', ...(options.cuda ? ['torch_cuda', 'c10_cuda'] : [])]) writeFileSync(path.join(dir, 'lib', `lib${lib}.so`), '');
  writeFileSync(path.join(dir, 'lib', 'libc10.so'), options.cxx11 ? 'xx_ZNSt7__cxx1112basic_stringxx' : 'xx_ZNSsxx');
  return dir;
}

function locate(env: Record<string, string>) {
  const out = execFileSync(process.execPath, [locator, '--json'], { env: { ...process.env, ...env } });
  return JSON.parse(out.toString());
}

test('LIBTORCH pointing at a CUDA distribution links torch_cuda and c10_cuda with --no-as-needed', (t) => {
  const dir = fakeLibTorch({ cuda: true, cxx11: true });
  const info = locate({ LIBTORCH: dir });
  t.is(info.source, 'LIBTORCH');
  t.is(info.version, '2.11.0');
  t.true(info.cuda);
  t.deepEqual(info.includeDirs, [path.join(dir, 'include'), path.join(dir, 'include', 'torch', 'csrc', 'api', 'include')]);
  const flags: string[] = info.ldflags;
  const noAsNeeded = flags.indexOf('-Wl,--no-as-needed');
  t.true(noAsNeeded >= 0);
  t.true(flags.indexOf('-ltorch_cuda') > noAsNeeded && flags.indexOf('-lc10_cuda') > noAsNeeded);
  t.true(flags.includes(`-Wl,-rpath,${path.join(dir, 'lib')}`));
  t.true(info.defines.includes('_GLIBCXX_USE_CXX11_ABI=1'));
  t.true(info.defines.includes('LAXRAY_WITH_CUDA=1'));
});

test('a CPU-only distribution built with the old C++ ABI gets neither CUDA libraries nor the new ABI', (t) => {
  const dir = fakeLibTorch({ cuda: false, cxx11: false });
  const info = locate({ LIBTORCH: dir });
  t.false(info.cuda);
  t.false(info.ldflags.some((f: string) => f.includes('cuda') || f.includes('no-as-needed')));
  t.true(info.defines.includes('_GLIBCXX_USE_CXX11_ABI=0'));
  t.true(info.defines.includes('LAXRAY_WITH_CUDA=0'));
});

test('a LIBTORCH that is not LibTorch is an error saying what was expected', (t) => {
  const dir = tempDir('not-libtorch');
  const result = spawnSync(process.execPath, [locator, '--json'], { env: { ...process.env, LIBTORCH: dir } });
  t.is(result.status, 1);
  t.regex(result.stderr.toString(), /does not look like LibTorch.*torch\.h/s);
});

test('without LIBTORCH the machine\'s own LibTorch is found and describes itself', (t) => {
  const env = { ...process.env };
  delete env.LIBTORCH;
  const out = execFileSync(process.execPath, [locator, '--describe'], { env }).toString();
  t.regex(out, /^LibTorch \d+\.\d+\.\d+ from (python torch|Debian libtorch-dev)/);
});
