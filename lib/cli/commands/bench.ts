// `laxray bench [name...]`: the benchmarks of `npm run bench` (scripts/bench/*.bench.ts,
// JSON lines on stdout), run by the same runner in a child process.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { LaxrayError } from '../../errors.js';

export function register(command: Command): void {
  command
    .description('run the benchmarks (as npm run bench): each prints JSON lines with machine, device, versions and figures')
    .argument('[names...]', 'benchmarks to run (file names in scripts/bench without .bench.ts); default all')
    .option('--list', 'list the benchmarks and exit')
    .addHelpText('after', '\nExamples:\n  laxray bench\n  laxray bench eval loader')
    .action(async (names: string[], opts: { list?: boolean }) => {
      const [{ spawn }, { packageRoot }] = await Promise.all([import('node:child_process'), import('../../native.js')]);
      const dir = path.join(packageRoot(), 'scripts', 'bench');
      const runner = path.join(dir, 'run.ts');
      if (!existsSync(runner)) throw new LaxrayError('IO_ERROR', `the benchmark runner ${runner} is missing; benchmarks ship with a source checkout of laxray`);
      const available = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
      if (opts.list) {
        process.stdout.write(available.join('\n') + '\n');
        return;
      }
      const unknown = names.filter((n) => !available.includes(n));
      if (unknown.length > 0) throw new LaxrayError('INVALID_ARGUMENT', `unknown benchmark(s) ${unknown.join(', ')}; available: ${available.join(', ')}`);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', runner, ...names], { stdio: 'inherit', cwd: packageRoot() });
        child.on('error', (err) => reject(new LaxrayError('IO_ERROR', `cannot start the benchmark runner: ${err.message}`, { cause: err })));
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      });
      if (code !== 0) process.exitCode = code;
    });
}
