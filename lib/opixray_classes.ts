// The OPIXray dataset's 5 cutter categories, ids 1..5 in this order (the
// dataset's own class names).
export const OPIXRAY_CLASSES = ['Folding_Knife', 'Straight_Knife', 'Scissor', 'Utility_Knife', 'Multi-tool_Knife'] as const;
