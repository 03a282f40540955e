/**
 * Reads the pod and container config files `berth runp` and `berth create` take, as crictl does: JSON or
 * YAML, field names in the proto's snake_case (crictl's examples) or camelCase. Keys inside map fields (labels,
 * annotations, sysctls...) are data and stay as written.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ContainerConfig } from '../api/gen/cri.js';
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A ContainerConfig from a config file's document. Env values are plain strings in crictl's files
 * (`envs: [{key: A, value: b}]`); Berth's proto types KeyValue.value as bytes (wire-identical), whose JSON
 * form is base64, so they are taken as written here instead of being base64-decoded.
 */
export function containerConfigFromDoc(doc: unknown): ContainerConfig {
  const envs = isRecord(doc) ? doc['envs'] : undefined;
  const config = ContainerConfig.fromJSON(isRecord(doc) ? { ...doc, envs: [] } : doc);
  if (Array.isArray(envs)) {
    config.envs = envs.map((e: unknown, i) => {
      if (!isRecord(e) || typeof e['key'] !== 'string') throw new CliError(`envs[${i}] must have a string key`);
      const value = e['value'] ?? '';
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new CliError(`envs[${i}] (${e['key']}) must have a string value`);
      }
      return { key: e['key'], value: Buffer.from(String(value)) };
    });
  }
  return config;
}
