// The list of sub-commands; add one line per command module.
import type { Command } from 'commander';
import * as info from './info.js';
import * as convert from './convert.js';
import * as synth from './synth.js';
import * as evalCommand from './eval.js';
import * as train from './train.js';
import * as detect from './detect.js';
import * as demo from './demo.js';
import * as study from './study.js';
import * as bench from './bench.js';

export interface CommandModule {
  register(program: Command): void;
}

export const commandModules: CommandModule[] = [
  info,
  convert,
  synth,
  evalCommand,
  train,
  detect,
  demo,
  study,
  bench,
];
