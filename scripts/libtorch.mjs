#!/usr/bin/env node
// Finds LibTorch for the addon build. binding.gyp calls this for include dirs,
// library dirs, libraries, defines and linker flags; setup and `laxray info`
// call it to explain what will be used.
//
// Order (first hit wins):
//   1. LIBTORCH env var: a libtorch distribution (include/, lib/) or a python
//      `torch` package directory (torch/include, torch/lib).
//   2. a python3 on PATH that can `import torch`.
//   3. Debian's libtorch-dev (/usr/include/torch, /usr/lib/<multiarch>).
//   4. otherwise: a clear error saying how to get LibTorch.
//
// Usage: node scripts/libtorch.mjs [--json | --include-dirs | --library-dirs |
//        --libraries | --defines | --ldflags | --describe]
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEBIAN_INCLUDE = '/usr/include';
const DEBIAN_LIB_CANDIDATES = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];

export class LibTorchNotFound extends Error {}

/** A LibTorch layout rooted at `root` with include/ and lib/ (distribution or python package). */
function layoutAt(root, source) {
  const include = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!existsSync(path.join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'))) return null;
  if (!hasLibrary(lib, 'torch')) return null;
  return { source, root, includeDirs: [include, path.join(include, 'torch', 'csrc', 'api', 'include')], libDir: lib };
}

function hasLibrary(dir, name) {
  return existsSync(path.join(dir, `lib${name}.so`)) || existsSync(path.join(dir, `lib${name}.dylib`));
}

function fromEnv() {
  const dir = process.env.LIBTORCH;
  if (!dir) return null;
  const found = layoutAt(path.resolve(dir), 'LIBTORCH');
  if (!found) {
    throw new LibTorchNotFound(
      `LIBTORCH=${dir} does not look like LibTorch: expected ${path.join(dir, 'include/torch/csrc/api/include/torch/torch.h')} ` +
        `and ${path.join(dir, 'lib/libtorch.so')}. Point LIBTORCH at an unpacked libtorch distribution or at a python ` +
        `torch package directory (python3 -c "import torch,os;print(os.path.dirname(torch.__file__))").`,
    );
  }
  return found;
}

function fromPython() {
  for (const python of ['python3', 'python']) {
    try {
      const out = execFileSync(python, ['-c', 'import torch,os;print(os.path.dirname(torch.__file__))'], {
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60_000,
      });
      const found = layoutAt(out.toString().trim(), `python torch (${python})`);
      if (found) return found;
    } catch {
      // no such python, or it has no torch: try the next source
    }
  }
  return null;
}

function fromDebian() {
  if (!existsSync(path.join(DEBIAN_INCLUDE, 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'))) return null;
  const libDir = DEBIAN_LIB_CANDIDATES.find((d) => hasLibrary(d, 'torch'));
  if (!libDir) return null;
  return {
    source: 'Debian libtorch-dev',
    root: '/usr',
    includeDirs: [DEBIAN_INCLUDE, path.join(DEBIAN_INCLUDE, 'torch', 'csrc', 'api', 'include')],
    libDir,
  };
}

/** The C++ ABI LibTorch was built with: libc10 names std::string as std::__cxx11 only under the new ABI. */
function cxx11Abi(libDir) {
  const c10 = ['libc10.so', 'libc10.dylib'].map((f) => path.join(libDir, f)).find(existsSync);
  if (!c10) return 1;
  return readFileSync(c10).includes('__cxx11') ? 1 : 0;
}

/** Reads the version from the headers (torch/version.h in 1.13; torch/headeronly/version.h in recent 2.x). */
function torchVersion(includeDirs) {
  for (const dir of includeDirs) {
    for (const rel of [['torch', 'version.h'], ['torch', 'headeronly', 'version.h']]) {
      const file = path.join(dir, ...rel);
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      const part = (name) => new RegExp(`#define\\s+TORCH_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1];
      const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
      if (major !== undefined) return `${major}.${minor}.${patch}`;
    }
  }
  return 'unknown';
}

function findInclude(dirs, rel) {
  return dirs.find((d) => existsSync(path.join(d, rel))) ?? null;
}

/**
 * c10d's Gloo backend (CPU data-parallel training): LibTorch's
 * ProcessGroupGloo.hpp plus Gloo's own headers (bundled in python torch and
 * LibTorch distributions; Debian ships them in libgloo-dev).
 */
function glooSupport(found) {
  const c10d = findInclude(found.includeDirs, path.join('torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupGloo.hpp'));
  const gloo = findInclude([...found.includeDirs, '/usr/include', '/usr/local/include'], path.join('gloo', 'config.h'));
  if (c10d === null || gloo === null) return { available: false, includeDirs: [] };
  // /usr/include only when needed: a foreign LibTorch must not pick up Debian's torch headers there
  return { available: true, includeDirs: found.includeDirs.includes(gloo) ? [] : [gloo] };
}

/**
 * c10d's NCCL backend (one process per GPU): a CUDA LibTorch with
 * ProcessGroupNCCL.hpp, and the headers it includes, nccl.h and the CUDA
 * runtime's (NCCL_INCLUDE_DIR / CUDA_HOME, the python wheels' nvidia/ folders,
 * /usr/local/cuda).
 */
function ncclSupport(found, cuda) {
  const none = { available: false, includeDirs: [] };
  if (!cuda) return none;
  if (!findInclude(found.includeDirs, path.join('torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp'))) return none;
  const sitePackages = path.dirname(found.root);
  const candidates = [
    process.env.NCCL_INCLUDE_DIR,
    process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'include'),
    path.join(sitePackages, 'nvidia', 'nccl', 'include'),
    path.join(sitePackages, 'nvidia', 'cuda_runtime', 'include'),
    '/usr/local/cuda/include',
    '/usr/include',
  ].filter((d) => typeof d === 'string' && d !== '');
  const dirs = [...found.includeDirs, ...candidates];
  const nccl = findInclude(dirs, 'nccl.h');
  const runtime = findInclude(dirs, 'cuda_runtime_api.h');
  if (nccl === null || runtime === null) return none;
  return { available: true, includeDirs: [...new Set([nccl, runtime])].filter((d) => !found.includeDirs.includes(d)) };
}

export function locateLibTorch() {
  const found = fromEnv() ?? fromPython() ?? fromDebian();
  if (!found) {
    throw new LibTorchNotFound(
      'LibTorch was not found. Install it one of these ways and run the command again:\n' +
        '  - Debian/Ubuntu: apt-get install -y libtorch-dev   (CPU; `npm run setup` does this when run as root)\n' +
        '  - pip install torch, then make sure that python3 is on PATH (CUDA builds work this way)\n' +
        '  - download a libtorch distribution and set LIBTORCH=/path/to/libtorch',
    );
  }
  const cuda = hasLibrary(found.libDir, 'torch_cuda') && hasLibrary(found.libDir, 'c10_cuda');
  const gloo = glooSupport(found);
  const nccl = ncclSupport(found, cuda);
  const libraries = ['-ltorch', '-ltorch_cpu', '-lc10'];
  // --no-as-needed: nothing in our objects references torch_cuda directly, but
  // it must be loaded so that its CUDA kernels register themselves.
  const ldflags = [`-L${found.libDir}`, `-Wl,-rpath,${found.libDir}`];
  if (cuda) ldflags.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  // USE_C10D_*: the guards of LibTorch's own c10d headers.
  const distributedDefines = [
    `LAXRAY_WITH_GLOO=${gloo.available ? 1 : 0}`,
    `LAXRAY_WITH_NCCL=${nccl.available ? 1 : 0}`,
    ...(gloo.available ? ['USE_C10D_GLOO'] : []),
    ...(nccl.available ? ['USE_C10D_NCCL'] : []),
  ];
  return {
    ...found,
    includeDirs: [...found.includeDirs, ...gloo.includeDirs, ...nccl.includeDirs],
    version: torchVersion(found.includeDirs),
    cuda,
    gloo: gloo.available,
    nccl: nccl.available,
    libraries,
    ldflags,
    defines: [`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(found.libDir)}`, `LAXRAY_WITH_CUDA=${cuda ? 1 : 0}`, ...distributedDefines],
  };
}

function main(argv) {
  let info;
  try {
    info = locateLibTorch();
  } catch (err) {
    process.stderr.write(`laxray: ${err.message}\n`);
    process.exit(1);
  }
  const flag = argv[0] ?? '--describe';
  const lines = {
    '--json': () => JSON.stringify(info, null, 2),
    '--include-dirs': () => info.includeDirs.join(' '),
    '--library-dirs': () => info.libDir,
    '--libraries': () => info.libraries.join(' '),
    '--defines': () => info.defines.join(' '),
    '--ldflags': () => info.ldflags.join(' '),
    '--describe': () =>
      `LibTorch ${info.version} from ${info.source} at ${info.root} (${info.cuda ? 'CUDA' : 'CPU only'}; distributed: ` +
      `${[info.gloo && 'Gloo', info.nccl && 'NCCL'].filter(Boolean).join(', ') || 'none (no Gloo headers: apt-get install libgloo-dev)'})`,
  };
  if (!lines[flag]) {
    process.stderr.write(`unknown flag ${flag}; use one of ${Object.keys(lines).join(' ')}\n`);
    process.exit(2);
  }
  process.stdout.write(lines[flag]() + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
