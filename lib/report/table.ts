// Summary tables as aligned text (or Markdown): overall, per-class and
// challenging-subset AP. Rows are plain `{name, values}`; lib/eval's results map
// onto them directly.

export interface TableRow {
  name: string;
  /** Numbers are formatted (percent, digits); strings are shown as they are (e.g. "12.3 ± 0.4"). */
  values: Readonly<Record<string, number | string>>;
}

export interface TableOptions {
  /** Column order; default every value name, in first-seen order. */
  columns?: readonly string[];
  /** Header of the name column. Default 'name'. */
  nameHeader?: string;
  /** Values × 100 (AP in [0, 1] shown as %). Default true. */
  percent?: boolean;
  /** Decimals shown: one number for all columns, or per column name (others: 1). Default 1. */
  digits?: number | Readonly<Record<string, number>>;
  /** Shown for a missing, non-finite or negative value (pycocotools' −1: no ground truth). Default '-'. */
  missing?: string;
  /** 'text' (default): columns separated by two spaces, a dashed rule under the header. 'markdown': a pipe table. */
  style?: 'text' | 'markdown';
}

/**
 * An aligned table: the name column left-aligned, numbers right-aligned.
 *
 *   name              AP    AP50
 *   ----------------  ----  ----
 *   overall           59.3  71.8
 *   swiss army knife  10.0     -
 */
export function formatTable(rows: readonly TableRow[], options: TableOptions = {}): string {
  const columns = options.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  const scale = (options.percent ?? true) ? 100 : 1;
  const digitsOf = (column: string) => (typeof options.digits === 'number' ? options.digits : (options.digits?.[column] ?? 1));
  const missing = options.missing ?? '-';
  const cell = (v: number | string | undefined, column: string) =>
    typeof v === 'string' ? v : v === undefined || !Number.isFinite(v) || v < 0 ? missing : (v * scale).toFixed(digitsOf(column));

  // a '|' inside a Markdown cell would end it
  const escape = options.style === 'markdown' ? (text: string) => text.replace(/\|/g, '\\|') : (text: string) => text;
  const header = [options.nameHeader ?? 'name', ...columns].map(escape);
  const body = rows.map((r) => [r.name, ...columns.map((c) => cell(r.values[c], c))].map(escape));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const align = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)));

  if (options.style === 'markdown') {
    const line = (cells: readonly string[]) => `| ${align(cells).join(' | ')} |`;
    const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
    return [line(header), rule, ...body.map(line)].join('\n');
  }
  const line = (cells: readonly string[]) => align(cells).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export interface SummarySection {
  title: string;
  rows: readonly TableRow[];
  options?: TableOptions;
}

/** Several titled tables (overall, per class, challenging subset), separated by blank lines; empty sections are left out. */
export function formatSummary(sections: readonly SummarySection[], options: TableOptions = {}): string {
  return (
    sections
      .filter((s) => s.rows.length > 0)
      .map((s) => {
        const table = formatTable(s.rows, { ...options, ...s.options });
        return options.style === 'markdown' ? `### ${s.title}\n\n${table}` : `${s.title}\n${'='.repeat(s.title.length)}\n${table}`;
      })
      .join('\n\n') + '\n'
  );
}
