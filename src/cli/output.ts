/** Output formats shared by every command: table (default), json, yaml (crictl's -o). */
import { stringify as toYaml } from 'yaml';
import { Option } from 'commander';
import Table from 'cli-table3';

export const OUTPUT_FORMATS = Object.freeze(['table', 'json', 'yaml'] as const);
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * -o/--output on each command that prints data (as crictl has it), not on the program: a program-wide -o would
 * capture `berth save -o FILE`.
 */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, bigintSafe, 2);
}

/** Prints a structured value as JSON or YAML. */
export function printData(value: unknown, format: 'json' | 'yaml'): void {
  process.stdout.write(formatData(value, format));
}

/** printData's text. */
export function formatData(value: unknown, format: 'json' | 'yaml'): string {
  const plain: unknown = JSON.parse(JSON.stringify(value, bigintSafe));
  return format === 'json' ? `${toJson(plain)}\n` : toYaml(plain);
}

/** A borderless table like crictl's: upper-case headers, columns separated by spaces. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  process.stdout.write(formatTable(headers, rows));
}

/** printTable's text, ending in a newline. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: headers.map((h) => h.toUpperCase()),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '   ',
    },
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  for (const row of rows) table.push([...row]);
  // cli-table3 pads the last column too; trailing blanks only get in the way of grep and diff.
  const text = table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
  return `${text}\n`;
}
