// The layers of lib/: no import cycle between files, and every import between
// parts goes down this order (a part imports only parts on a lower line).
// dpdm reads the import graph (type-only imports removed, dynamic imports kept).
import test from 'ava';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { REPO_ROOT } from './helpers/paths.js';

const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'json_preview', 'clcxray', 'opixray_classes', 'call_queue'],
  ['json_file', 'atomic_file', 'worker_file'],
  ['config', 'native', 'device', 'eval', 'report'],
  ['checkpoint', 'runtime', 'tensor', 'label_aware'],
  ['data', 'ops'],
  ['detector'],
  ['train'],
  ['study'],
  ['cli', 'index'],
];

/** 'lib/train/trainer.ts' -> 'train'; 'lib/errors.ts' -> 'errors'. */
function partOf(file: string): string | null {
  const match = /^lib\/([^/]+?)(?:\.ts)?(?:\/|$)/.exec(file);
  return match ? match[1]! : null;
}

const tree = parseDependencyTree(['lib/**/*.ts'], { context: REPO_ROOT, transform: true, skipDynamicImports: false });

test('no import cycle between the files of lib/', async (t) => {
  const cycles = parseCircular(await tree);
  t.deepEqual(cycles.map((cycle) => cycle.join(' -> ')), []);
});

test('every import between parts of lib/ goes down the layers', async (t) => {
  const layerOf = new Map(LAYERS.flatMap((parts, rank) => parts.map((p) => [p, rank] as const)));
  const upward: string[] = [];
  for (const [file, dependencies] of Object.entries(await tree)) {
    const from = partOf(file);
    if (from === null) continue;
    t.true(layerOf.has(from), `${file}: lib/${from} is in no layer (add it to LAYERS and docs/design.md)`);
    for (const dependency of dependencies ?? []) {
      const to = dependency.id === null ? null : partOf(dependency.id);
      if (to === null || to === from) continue;
      if (!(layerOf.get(to)! < layerOf.get(from)!)) upward.push(`${file} imports ${dependency.id}`);
    }
  }
  t.deepEqual(upward, []);
});
