#!/usr/bin/env node
// Entry point of the `laxray` command. In a source checkout it runs the
// TypeScript sources through tsx (always current); an installed package runs
// the compiled dist/.
import { existsSync } from 'node:fs';

const source = new URL('../lib/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../dist/lib/cli/main.js', import.meta.url).href);
}
// exitCode rather than exit(): lets a large --json output drain into a pipe.
process.exitCode = await cli.main(process.argv.slice(2));
