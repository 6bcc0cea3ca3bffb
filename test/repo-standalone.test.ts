// The repository stands alone: no tracked source, test, script, example or doc
// mentions the workspace it was developed in (the shared folder beside the
// checkout, the design brief kept there, an absolute /work/ path) or reaches
// above the repository root with a relative path. A clone anywhere must build
// and pass its tests with nothing beside it. (The patterns and samples below
// are written so that this file does not match a plain grep for them either.)
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT as root } from './helpers/paths.js';

const self = path.relative(root, fileURLToPath(import.meta.url)).split(path.sep).join('/');

/** What is checked: everything a user or the next engineer reads or runs. */
const CHECKED = ['lib', 'native', 'test', 'scripts', 'bin', 'examples', 'docs', '.ci', 'README.md', 'package.json', 'binding.gyp', 'tsconfig.json', 'tsconfig.check.json'];

/** Mentions of the outside workspace, whatever the file. */
const FORBIDDEN: { pattern: RegExp; why: string }[] = [
  { pattern: /\.\.[/\\]shared\b/, why: 'mentions the shared folder beside the checkout' },
  { pattern: /['"]\.\.['"]\s*,\s*['"]shared['"]/, why: 'joins a path to the shared folder beside the checkout' },
  { pattern: /DESIGN\.md/, why: "mentions the workspace's design brief (the project document is docs/design.md)" },
  { pattern: /(^|[\s'"`(=:])\/work\//, why: 'names an absolute /work/ path' },
  { pattern: /\b(root|repoRoot)\s*,\s*['"]\.\.['"]/, why: "goes above the repository root (root, '..')" },
];

/** Relative paths that start with ../ (imports, includes, links, file names); not `a/../b`. */
const RELATIVE_PATH = /(?<![\w./-])(?:\.\.\/)+[\w.@-]*/g;

interface Finding {
  line: number;
  why: string;
  text: string;
}

/** The lines of `text` (the file at `file`, relative to the root) that reach outside the repository. */
function findOutsideReferences(file: string, text: string): Finding[] {
  const found: Finding[] = [];
  const dir = path.posix.dirname(file);
  text.split('\n').forEach((line, i) => {
    for (const { pattern, why } of FORBIDDEN) {
      if (pattern.test(line)) found.push({ line: i + 1, why, text: line.trim() });
    }
    for (const match of line.matchAll(RELATIVE_PATH)) {
      const target = path.posix.normalize(path.posix.join(dir, match[0]));
      if (target === '..' || target.startsWith('../')) {
        found.push({ line: i + 1, why: `${match[0]} leaves the repository (from ${dir}/)`, text: line.trim() });
      }
    }
  });
  return found;
}

function trackedFiles(): string[] {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '-z', '--', ...CHECKED], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    throw new Error(`git ls-files failed in ${root}: this check needs a git checkout with git on PATH (${(error as Error).message})`);
  }
  return out.split('\0').filter((f) => f !== '' && f !== self);
}

test('the scanner finds what it should and nothing else (hand-written lines)', (t) => {
  const beside = 'shared';
  const up = '..';
  const brief = ['DESIGN', 'md'].join('.');
  const bad = [
    `const dir = path.resolve(repoRoot, '${up}', '${beside}', 'fixtures');`,
    `// see ${up}/${beside}/fixtures/cocoeval`,
    `// defaults: ../../${brief} "The model"`,
    `const seed = '/work/${beside}/seed/paper.txt';`,
    "const outside = path.join(root, '..');",
  ];
  for (const line of bad) t.true(findOutsideReferences('lib/config/schema.ts', line).length > 0, line);
  // ../../../ from test/fixtures/eval/ reaches lib/, inside; one more ../ is outside.
  t.deepEqual(findOutsideReferences('test/fixtures/eval/build.ts', "import x from '../../../lib/eval/types.js';"), []);
  t.is(findOutsideReferences('test/fixtures/eval/build.ts', "import x from '../../../../lib/eval/types.js';").length, 1);
  // a path that climbs inside a folder name of its own is data, not a reference from this file
  t.deepEqual(findOutsideReferences('test/data-coco.test.ts', "file_name: 'sub/../../x.png'"), []);
  const good = [
    "import { LaxrayError } from '../errors.js';",
    '#include "../bindings/convert.h"',
    "const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');",
    '// the Label-aware mechanism, docs/design.md "The head"; a shared helper',
    "new Worker(new URL('./worker.js', self));",
  ];
  for (const line of good) t.deepEqual(findOutsideReferences('lib/data/coco.ts', line), [], line);
});

test('no tracked file reads or mentions anything outside the repository', (t) => {
  const files = trackedFiles();
  t.true(files.includes('lib/index.ts') && files.includes('README.md'), `git ls-files listed ${files.length} files`);
  const problems: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(path.join(root, file));
    if (bytes.includes(0)) continue; // binary (images)
    for (const f of findOutsideReferences(file, bytes.toString('utf8'))) problems.push(`${file}:${f.line}: ${f.why}: ${f.text.slice(0, 160)}`);
  }
  t.deepEqual(problems, [], `copy what is needed into the repository (e.g. test/fixtures/, with the script that made it):\n${problems.join('\n')}`);
});
