// The `laxray` command line. Each sub-command lives in lib/cli/commands/<name>.ts
// and exports `register(program)`; this file only wires them together.
import { Command, CommanderError } from 'commander';
import { LaxrayError } from '../errors.js';
import { commandModules } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('laxray')
    .description('X-ray baggage threat detection: ATSS + Label-aware mechanism on LibTorch')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const mod of commandModules) mod.register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version exit "successfully"; bad arguments already printed their message.
      return err.exitCode;
    }
    if (err instanceof LaxrayError) {
      process.stderr.write(`laxray: ${err.message}\n`);
      for (const d of err.details.slice(0, 50)) process.stderr.write(`  - ${d}\n`);
      if (err.details.length > 50) process.stderr.write(`  ... and ${err.details.length - 50} more\n`);
      return 1;
    }
    process.stderr.write(`laxray: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}
