/** Plain-text tables and number formatting for the benchmark report. */

export type Cell = string | number;

/** Renders rows under a header; the first column is left-aligned, the rest right-aligned. */
export function table(header: string[], rows: Cell[][], indent = '  '): string {
  const text = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, col) => Math.max(...text.map((row) => (row[col] ?? '').length)));
  const line = (row: string[]) =>
    indent +
    row
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('  ')
      .trimEnd();
  const rule = indent + widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(text[0]!), rule, ...text.slice(1).map(line)].join('\n');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** Thousands separators, no decimals. */
export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function signed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const text = value.toFixed(digits);
  return value >= 0 ? `+${text}` : text;
}

export function percent(ratio: number, digits = 0): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(digits)}%` : 'n/a';
}

export function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
