// Finding the state dict in what torch.save was given. People save
// model.state_dict() itself, or wrap it: {'state_dict': ...} (mmdetection, with
// 'meta' and 'optimizer' beside it; Lightning), {'model': ...} (torchvision's
// and detectron2's training scripts), {'model_state_dict': ...}; DataParallel
// prefixes every name with 'module.'.
import { LaxrayError } from '../../errors.js';
import { describe } from './globals.js';
import { TensorRef } from './tensor.js';
import { PyDict } from './unpickler.js';

/** Wrapper keys tried in this order; the first holding a dict of tensors wins. */
export const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'module'] as const;
const MAX_WRAPPING = 3;

export interface FoundStateDict {
  tensors: Map<string, TensorRef>;
  /** Where it was, e.g. "['state_dict']"; '' for the top level. */
  path: string;
  /** 'module.' when every name had it (DataParallel) and it was removed. */
  strippedPrefix: string | null;
  /** Entries that are not tensors (left out). */
  skipped: string[];
}

export function findStateDict(root: unknown, what: string): FoundStateDict {
  let node = root;
  let path = '';
  for (let depth = 0; depth <= MAX_WRAPPING && node instanceof PyDict; depth++) {
    const wrapped = WRAPPER_KEYS.find((key) => node instanceof PyDict && holdsTensors(node.map.get(key)));
    if (wrapped === undefined) break;
    node = (node as PyDict).map.get(wrapped);
    path += `['${wrapped}']`;
  }
  if (!(node instanceof PyDict) || ![...node.map.values()].some((v) => v instanceof TensorRef)) {
    throw new LaxrayError('CHECKPOINT_ERROR', `${what}: no state dict found${path ? ` under ${path}` : ''}: expected a dict of tensors, or one under ${WRAPPER_KEYS.map((k) => `'${k}'`).join(' / ')}; ${summarise(node)}`);
  }
  const tensors = new Map<string, TensorRef>();
  const skipped: string[] = [];
  for (const [key, value] of node.map) {
    if (typeof key !== 'string') throw new LaxrayError('CHECKPOINT_ERROR', `${what}: the state dict${path} has a key that is not a string (${describe(key)})`);
    if (value instanceof TensorRef) tensors.set(key, value);
    else skipped.push(`${key} (${describe(value)})`);
  }
  const names = [...tensors.keys()];
  const strippedPrefix = names.length > 0 && names.every((n) => n.startsWith('module.')) ? 'module.' : null;
  if (strippedPrefix === null) return { tensors, path, strippedPrefix, skipped };
  return { tensors: new Map([...tensors].map(([n, t]) => [n.slice(strippedPrefix.length), t])), path, strippedPrefix, skipped };
}

/** A dict with a tensor among its values, directly or one wrapper further down. */
function holdsTensors(value: unknown, depth = 0): boolean {
  if (!(value instanceof PyDict)) return false;
  for (const v of value.map.values()) if (v instanceof TensorRef) return true;
  return depth < MAX_WRAPPING && WRAPPER_KEYS.some((key) => holdsTensors(value.map.get(key), depth + 1));
}

function summarise(node: unknown): string {
  if (!(node instanceof PyDict)) return `the file holds a ${describe(node)}`;
  const keys = [...node.map.entries()].slice(0, 12).map(([k, v]) => `${typeof k === 'string' ? k : describe(k)}: ${describe(v)}`);
  return `its top level holds {${keys.join(', ')}${node.map.size > 12 ? ', ...' : ''}}`;
}
