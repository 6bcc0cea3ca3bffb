// `npm run bench [name...]`: runs every benchmark in scripts/bench/*.bench.ts
// (or the named ones) one after another; each prints JSON lines on stdout.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.bench\.ts$/, '')))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}; available: ${readdirSync(here).filter((f) => f.endsWith('.bench.ts')).join(', ')}`);
  process.exit(2);
}
for (const file of files) {
  const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') throw new Error(`${file} must export async function run()`);
  await mod.run();
}
