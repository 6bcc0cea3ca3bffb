// Which device laxray runs on: an explicit option, else LAXRAY_DEVICE, else cpu.
import { LaxrayError } from './errors.js';

const DEVICE_PATTERN = /^(cpu|cuda(:\d+)?)$/;

export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`;

/** Validates a device name ('cpu', 'cuda', 'cuda:1'); the addon checks it is usable. */
export function resolveDeviceName(requested?: string): DeviceName {
  const name = requested ?? process.env.LAXRAY_DEVICE ?? 'cpu';
  if (!DEVICE_PATTERN.test(name)) {
    const from = requested === undefined && process.env.LAXRAY_DEVICE !== undefined ? ' (from LAXRAY_DEVICE)' : '';
    throw new LaxrayError('INVALID_ARGUMENT', `unknown device '${name}'${from}: use 'cpu', 'cuda' or 'cuda:<index>'`);
  }
  return name as DeviceName;
}
