// The `laxray` command line. Each sub-command lives in lib/cli/commands/<name>.ts
// and exports `register(command)`; this file only wires them together.
import { Command, CommanderError } from 'commander';
import { LaxrayError } from '../errors.js';
import { COMMANDS } from './commands/index.js';

/**
 * A reader that went away (`laxray train --help | head -1`, a closed
 * terminal) ends the CLI quietly, as SIGPIPE ends a C program; other stream
 * errors are reported in one line. Installed once per process.
 */
let pipesHandled = false;
function handleClosedPipes(): void {
  if (pipesHandled) return;
  pipesHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(process.exitCode ?? 0);
      if (stream !== process.stderr) process.stderr.write(`laxray: cannot write the output: ${err.message}\n`);
      process.exit(1);
    });
  }
}

/**
 * Names every sub-command and loads the modules of those named in `argv` (the
 * one that runs, or `help <name>`); the rest stay entries in `laxray --help`.
 * A stray operand equal to a command's name only loads one module more.
 */
async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const named = COMMANDS.map((entry) => ({ entry, command: program.command(entry.name).summary(entry.summary).usage(entry.usage) }));
  const wanted = named.filter(({ entry }) => argv.includes(entry.name));
  const modules = await Promise.all(wanted.map(({ entry }) => entry.load()));
  wanted.forEach(({ command }, i) => {
    command.usage(''); // back to commander's own, from the module's arguments
    modules[i]!.register(command);
  });
}

export async function main(argv: string[]): Promise<number> {
  handleClosedPipes();
  const program = new Command('laxray')
    .description('X-ray baggage threat detection: ATSS + Label-aware mechanism on LibTorch')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    // commander derives a command's usage from its options and arguments; a command not loaded has none yet
    .configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}` });
  try {
    await registerCommands(program, argv);
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version exit "successfully"; bad arguments already printed their message.
      return err.exitCode;
    }
    if (err instanceof LaxrayError) {
      process.stderr.write(`laxray: ${err.message}\n`);
      // a message that already lists every detail (a config's problems) is not followed by the list again
      const details = err.details.every((d) => err.message.includes(d)) ? [] : err.details;
      for (const d of details.slice(0, 50)) process.stderr.write(`  - ${d}\n`);
      if (details.length > 50) process.stderr.write(`  ... and ${details.length - 50} more\n`);
      return 1;
    }
    process.stderr.write(`laxray: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}
