// From what the user wrote (an object or a JSON file) to a complete LaxrayConfig:
//   preset overrides  ←  the file / object  ←  `overrides` (e.g. CLI flags)
// deep-merged, then validated by the schema, which fills the defaults. Every
// problem is reported at once, one line each, naming the full key path.
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { readJsonFileSync } from '../json_file.js';
import { describeGiven, didYouMean, formatIssues, schemaAt, type SchemaNode } from './issues.js';
import { deepMerge, isPlainObject, type JsonObject } from './merge.js';
import { presets } from './presets.js';
import type { OptimizerOptions } from './optimizer.js';
import {
  configJsonSchema,
  configSchema,
  optimizerSettings,
  PRESET_NAMES,
  type LaxrayConfig,
  type LaxrayConfigInput,
  type PresetName,
} from './schema.js';

/** Paths a config file may hold; relative ones are taken relative to the file. */
const PATH_FIELDS: readonly (readonly string[])[] = [
  ['model', 'backbone', 'pretrained'],
  ...['train', 'val', 'test'].flatMap((split) => [
    ['data', split, 'annotations'],
    ['data', split, 'images'],
  ]),
];

/**
 * A complete, validated config from a partial object or a JSON file path.
 * `overrides` (same shape) is merged last; the CLI passes its flags there.
 * Throws LaxrayError INVALID_CONFIG listing every problem (IO_ERROR when the file cannot be read).
 */
export function resolveConfig(input: LaxrayConfigInput | LaxrayConfig | string = {}, overrides: LaxrayConfigInput = {}): LaxrayConfig {
  const source = typeof input === 'string' ? `config file ${input}` : 'config';
  let raw: unknown = typeof input === 'string' ? readJsonFileSync(input, { what: 'config', code: 'INVALID_CONFIG' }) : input;
  if (!isPlainObject(raw)) {
    throw new LaxrayError('INVALID_CONFIG', `${source}: expected an object of settings at the top level, got ${describeGiven(raw)}`);
  }
  if (typeof input === 'string') raw = rebasePaths(raw, path.dirname(path.resolve(input)));
  if (!isPlainObject(overrides)) {
    throw new LaxrayError('INVALID_ARGUMENT', `config overrides must be an object, got ${describeGiven(overrides)}`);
  }
  const user = deepMerge(raw as JsonObject, overrides as JsonObject);
  const preset = presetOf(user, source);
  const merged = preset === null ? user : deepMerge(presets[preset] as JsonObject, user);

  const result = configSchema.safeParse(merged, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(configJsonSchema() as SchemaNode, result.error.issues);
  const message =
    problems.length === 1
      ? `${source}: ${problems[0]}`
      : `${source}: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
  throw new LaxrayError('INVALID_CONFIG', message, { details: problems, cause: result.error });
}

/**
 * SGD settings given to Detector.configureOptimizer, checked by the config's
 * train.momentum / weightDecay / gradClipNorm rules (a bad value would turn
 * every weight NaN). Throws LaxrayError INVALID_ARGUMENT naming each bad field.
 */
export function resolveOptimizerOptions(options: unknown, what = 'configureOptimizer'): OptimizerOptions {
  const result = optimizerSettings.safeParse(options, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(optimizerJsonSchema(), result.error.issues);
  throw new LaxrayError('INVALID_ARGUMENT', `${what}: ${problems.join('; ')}`, { details: problems, cause: result.error });
}

/** The JSON Schema of the optimiser settings: those three fields of train's. */
function optimizerJsonSchema(): SchemaNode {
  const train = schemaAt(configJsonSchema() as SchemaNode, ['train']);
  const properties = Object.fromEntries(Object.keys(optimizerSettings.shape).map((key) => [key, train?.properties?.[key] ?? {}]));
  return { type: 'object', properties } as SchemaNode;
}

/** The defaults: the paper's ATSS + LAcls set-up (R-50-FPN, 12 epochs, batch 8, lr 0.01). */
export function defaultConfig(): LaxrayConfig {
  return resolveConfig({});
}

/** The config file's `preset`, checked early so a typo is caught before it shapes the merge. */
function presetOf(user: JsonObject, source: string): PresetName | null {
  const p = user.preset;
  if (p === undefined || p === null) return null;
  if (typeof p === 'string' && (PRESET_NAMES as readonly string[]).includes(p)) return p as PresetName;
  const guess = typeof p === 'string' ? didYouMean(p, PRESET_NAMES) : undefined;
  const given = typeof p === 'string' ? `'${p}'` : describeGiven(p);
  throw new LaxrayError(
    'INVALID_CONFIG',
    `${source}: preset: unknown preset ${given}${guess !== undefined ? ` (did you mean '${guess}'?)` : ''}; presets: ${PRESET_NAMES.join(', ')}`,
  );
}

function rebasePaths(obj: JsonObject, dir: string): JsonObject {
  let out = obj;
  for (const keys of PATH_FIELDS) {
    let parent: unknown = out;
    for (const k of keys.slice(0, -1)) parent = isPlainObject(parent) ? parent[k] : undefined;
    const leaf = keys[keys.length - 1]!;
    const value = isPlainObject(parent) ? parent[leaf] : undefined;
    if (typeof value !== 'string' || value === '' || path.isAbsolute(value)) continue;
    let patch: JsonObject = { [leaf]: path.resolve(dir, value) };
    for (const k of keys.slice(0, -1).reverse()) patch = { [k]: patch };
    out = deepMerge(out, patch);
  }
  return out;
}

/**
 * One `key.path=value` assignment (CLI `--set train.batchSize=4`) as an override
 * object. The value is read as JSON when it parses (numbers, true, null, [1, 2]),
 * else taken as a string.
 */
export function overrideFromAssignment(assignment: string): LaxrayConfigInput {
  const eq = assignment.indexOf('=');
  if (eq <= 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `config override '${assignment}': expected key.path=value, e.g. train.batchSize=4`);
  }
  const keys = assignment.slice(0, eq).trim().split('.');
  if (keys.some((k) => k === '')) {
    throw new LaxrayError('INVALID_ARGUMENT', `config override '${assignment}': empty key in '${assignment.slice(0, eq)}'`);
  }
  const reserved = keys.find((k) => k === '__proto__' || k === 'constructor' || k === 'prototype');
  if (reserved !== undefined) {
    throw new LaxrayError('INVALID_ARGUMENT', `config override '${assignment}': '${reserved}' is not a config key (see laxray train --help for the fields)`);
  }
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  let out: unknown = value;
  for (const k of keys.reverse()) out = { [k]: out };
  return out as LaxrayConfigInput;
}
