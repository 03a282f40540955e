/**
 * Reads the pod and container config files `berth runp` and `berth create` take, as crictl does: JSON or
 * YAML, field names in the proto's snake_case (crictl's examples) or camelCase. Keys inside map fields (labels,
 * annotations, sysctls...) are data and stay as written.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { CliError } from './errors.js';

const MAP_FIELDS = new Set(['labels', 'annotations', 'sysctls', 'unified', 'labelSelector', 'label_selector']);

function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[camel(key)] = MAP_FIELDS.has(key) ? inner : camelizeKeys(inner);
  }
  return out;
}

export async function readCriConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const doc: unknown = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
    return camelizeKeys(doc);
  } catch (err) {
    throw new CliError(`${path} is not a valid JSON or YAML config: ${(err as Error).message}`);
  }
}
