/**
 * The results table: one row per metric, one column per daemon, and the Berth/containerd ratio. Rendered
 * as a Markdown table with padded columns, so the same text reads well on a terminal and in BENCHMARKS.md.
 */
import type { Metric } from './benchmark.js';
import type { DaemonName } from './daemons.js';

/** A daemon's outcome for one metric: its value, or why there is none. */
export type Cell = { readonly kind: 'value'; readonly value: number } | { readonly kind: 'error' };

export interface Row {
  /** "<benchmark> <metric>" */
  readonly label: string;
  readonly unit: string;
  readonly digits: number;
  /** A daemon left out of the run (--daemons) has no cell. */
  readonly cells: Readonly<Partial<Record<DaemonName, Cell>>>;
}

/** Rows of one benchmark from each daemon's metrics (or its error), in the order the daemons returned them. */
export function benchmarkRows(
  benchmark: string,
  outcomes: Readonly<Partial<Record<DaemonName, readonly Metric[] | 'error'>>>,
): Row[] {
  const rows = new Map<string, { unit: string; digits: number; cells: Partial<Record<DaemonName, Cell>> }>();
  for (const outcome of Object.values(outcomes)) {
    if (outcome === undefined || outcome === 'error') continue;
    for (const m of outcome) {
      if (!rows.has(m.name)) rows.set(m.name, { unit: m.unit, digits: m.digits ?? 2, cells: {} });
    }
  }
  if (rows.size === 0) rows.set('(failed)', { unit: '', digits: 2, cells: {} });
  for (const [daemon, outcome] of Object.entries(outcomes) as [DaemonName, readonly Metric[] | 'error' | undefined][]) {
    for (const [name, row] of rows) {
      if (outcome === undefined) continue;
      if (outcome === 'error') {
        row.cells[daemon] = { kind: 'error' };
        continue;
      }
      const metric = outcome.find((m) => m.name === name);
      row.cells[daemon] = metric === undefined ? { kind: 'error' } : { kind: 'value', value: metric.value };
    }
  }
  return [...rows].map(([name, row]) => ({ label: `${benchmark} ${name}`, ...row }));
}

function formatCell(cell: Cell | undefined, digits: number): string {
  if (cell === undefined) return 'not run';
  switch (cell.kind) {
    case 'value':
      return cell.value.toFixed(digits);
    case 'error':
      return 'error';
    default: {
      const never: never = cell;
      return String(never);
    }
  }
}

/** berth / containerd, or "–" when either is missing (or containerd's value is 0). */
export function formatRatio(row: Row): string {
  const berth = row.cells.berth;
  const containerd = row.cells.containerd;
  if (berth?.kind !== 'value' || containerd?.kind !== 'value' || containerd.value === 0) return '–';
  return (berth.value / containerd.value).toFixed(2);
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['benchmark', 'unit', 'Berth', 'containerd', 'Berth/containerd'];
  const body = rows.map((r) => [
    r.label,
    r.unit,
    formatCell(r.cells.berth, r.digits),
    formatCell(r.cells.containerd, r.digits),
    formatRatio(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const isNumeric = (i: number): boolean => i >= 2;
  const pad = (text: string, i: number): string => (isNumeric(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: readonly string[]): string => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (isNumeric(i) ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}
