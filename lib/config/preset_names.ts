// The preset names on their own (no schema), so the CLI can list them without
// loading the config schema.
export const PRESET_NAMES = ['atss', 'atss-dist', 'atss-dist-reg2', 'atss-lacls', 'atss-lareg'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
