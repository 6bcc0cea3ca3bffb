// `laxray info`: the LibTorch in use, devices, threads and the addon file.
import type { Command } from 'commander';

export function register(command: Command): void {
  command
    .description('show the LibTorch version, CUDA devices, threads and the addon in use')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const { runtimeInfo } = await import('../../runtime.js'); // loaded here, so `laxray --help` starts fast
      const info = await runtimeInfo();
      if (options.json) {
        process.stdout.write(JSON.stringify(info) + '\n');
        return;
      }
      const gpus = info.devices.map((d) => `cuda:${d.index} ${d.name} (${(d.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB)`);
      const lines = [
        `LibTorch        ${info.torchVersion} (${info.builtWithCuda ? 'CUDA build' : 'CPU-only build'})`,
        `CUDA            ${info.cudaAvailable ? `${info.deviceCount} device(s)` : 'not available'}`,
        ...gpus.map((g) => `                ${g}`),
        `threads         ${info.intraOpThreads} intra-op, ${info.interOpThreads} inter-op`,
        `default device  ${info.defaultDevice}`,
        `addon           ${info.addonFile}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
