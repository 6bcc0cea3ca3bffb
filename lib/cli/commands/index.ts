// The sub-commands. `laxray --help` lists them from this table alone; a
// command's module (its options, help and action) is loaded only when its name
// is on the command line, so the CLI starts without parsing nine modules.
// Adding a command is one entry here and one module exporting `register`.
import type { Command } from 'commander';

export interface CommandModule {
  /** Adds the description, arguments, options and action to `command` (already named). */
  register(command: Command): void;
}

export interface CommandEntry {
  name: string;
  /** What the module's arguments make commander print after the name (test/cli-commands.test.ts keeps the two equal). */
  usage: string;
  /** One line for the list in `laxray --help`; the module's description is the long form. */
  summary: string;
  load(): Promise<CommandModule>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'info', usage: '[options]', summary: 'LibTorch version, CUDA devices, threads and the addon in use', load: () => import('./info.js') },
  { name: 'convert', usage: '[options] [command]', summary: 'datasets (OPIXray, dual-energy) and weights (.pth ⇄ safetensors) into what laxray reads', load: () => import('./convert.js') },
  { name: 'synth', usage: '[options]', summary: 'generate a synthetic dual-energy X-ray baggage dataset (COCO JSON)', load: () => import('./synth.js') },
  { name: 'eval', usage: '[options]', summary: "COCO bbox evaluation with pycocotools' exact numbers", load: () => import('./eval.js') },
  { name: 'train', usage: '[options]', summary: 'train ATSS, ATSS+LAcls or ATSS+LAreg on a COCO dataset', load: () => import('./train.js') },
  { name: 'detect', usage: '[options] <images...>', summary: 'detect threat objects in images with a trained run', load: () => import('./detect.js') },
  { name: 'demo', usage: '[options]', summary: 'the tour: synthetic scans, a few minutes of CPU training, evaluation, a report', load: () => import('./demo.js') },
  { name: 'study', usage: '[options]', summary: 'measure what LA buys: methods × seeds on one synthetic benchmark', load: () => import('./study.js') },
  { name: 'bench', usage: '[options] [names...]', summary: 'run the benchmarks (JSON lines with machine details)', load: () => import('./bench.js') },
];
