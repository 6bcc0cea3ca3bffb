// The CLI's command table (lib/cli/commands/index.ts) against the command
// modules, and what `laxray --help` loads: the table lists every command, a
// module is loaded only for the command named on the command line.
import test from 'ava';
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { COMMANDS } from '../lib/cli/commands/index.js';
import { startNode } from './helpers/cli.js';
import { REPO_ROOT } from './helpers/paths.js';

test('the table names every command module once', (t) => {
  const modules = readdirSync(path.join(REPO_ROOT, 'lib', 'cli', 'commands'))
    .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  t.deepEqual(COMMANDS.map((c) => c.name).sort(), modules);
});

for (const entry of COMMANDS) {
  test(`laxray ${entry.name}: the table's usage is what its module's arguments and options give`, async (t) => {
    const command = new Command(entry.name);
    (await entry.load()).register(command);
    t.is(command.usage(), entry.usage);
    t.true(command.description().length > entry.summary.length / 2, 'the module gives the long description');
  });
}

/**
 * The lib/ files a child process loads while running `laxray <args>` from the
 * sources (a resolve hook reports each one), relative to lib/.
 */
async function libFilesLoaded(args: string[]): Promise<string[]> {
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('resolved ' + r.url + '\\n'); return r; }`;
  const script = [
    `import { register } from 'node:module';`,
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
    `const { main } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'lib', 'cli', 'main.ts')).href)});`,
    `process.exitCode = await main(${JSON.stringify(args)});`,
  ].join('\n');
  const run = await startNode(['--import', 'tsx', '--input-type=module', '-e', script]).done;
  if (run.code !== 0) throw new Error(`laxray ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  const libUrl = pathToFileURL(path.join(REPO_ROOT, 'lib')).href + '/';
  const files = run.stderr
    .split('\n')
    .filter((line) => line.startsWith(`resolved ${libUrl}`))
    .map((line) => line.slice(`resolved ${libUrl}`.length));
  return [...new Set(files)].sort();
}

test('laxray --help loads the table and no command module', async (t) => {
  t.deepEqual(await libFilesLoaded(['--help']), ['cli/commands/index.ts', 'cli/main.ts', 'errors.ts']);
});

test('laxray eval --help loads the eval module and nothing it needs only to run', async (t) => {
  t.deepEqual(await libFilesLoaded(['eval', '--help']), ['cli/commands/eval.ts', 'cli/commands/index.ts', 'cli/main.ts', 'errors.ts']);
});
