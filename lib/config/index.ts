// Run configuration: schema (validation + defaults + docs), presets, loading, schedule.
export {
  configSchema,
  configJsonSchema,
  CLCXRAY_CLASSES,
  PRESET_NAMES,
  type LaxrayConfig,
  type LaxrayConfigInput,
  type PresetName,
} from './schema.js';
export { presets } from './presets.js';
export { resolveConfig, resolveOptimizerOptions, defaultConfig, overrideFromAssignment } from './resolve.js';
export { effectiveLr, learningRateAt } from './schedule.js';
export { configReference, type ConfigField } from './reference.js';
export { deepMerge } from './merge.js';
export type { OptimizerOptions } from './optimizer.js';
