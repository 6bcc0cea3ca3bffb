// Machine description stamped on every benchmark JSON line, so figures can be
// compared run to run (and a CPU figure is never mistaken for a GPU one).
import os from 'node:os';

export interface MachineInfo {
  hostname: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** Prints one benchmark result as a JSON line on stdout. */
export function reportBenchmark(name: string, result: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ benchmark: name, time: new Date().toISOString(), machine: machineInfo(), ...result }) + '\n');
}
