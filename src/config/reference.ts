/**
 * docs/config-reference.md, generated from the zod schema so the reference cannot drift from what berthd
 * accepts: every key with its type, default and meaning (`.describe()` text). The schema is read through
 * zod's JSON Schema export (its public view of types, defaults and metadata); built-in table entries (the
 * runc and crun runtimes) come from the parsed default config. scripts/gen-config-reference.ts writes the
 * file and CI checks that the checked-in copy is current.
 */
import { z } from 'zod';
import { ConfigSchema } from './schema.js';
import { defaultConfig, DEFAULT_CONFIG_PATH } from './load.js';

/** The parts of a JSON Schema node the generator reads. */
interface SchemaNode {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly SchemaNode[];
  readonly items?: SchemaNode;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly required?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly typeLabel?: string;
  readonly keyLabel?: string;
}

/** One key of a TOML table. */
export interface ReferenceKey {
  readonly key: string;
  readonly type: string;
  /** The default as TOML, or undefined when the key is required. */
  readonly defaultToml: string | undefined;
  readonly meaning: string;
}

/** One TOML table: `[plugins.cri.cni]`, or '' for the top level. */
export interface ReferenceSection {
  readonly table: string;
  readonly meaning: string;
  /** Entries a table of tables has without any config (runtimes: runc, crun), as TOML lines. */
  readonly builtIns: readonly string[];
  readonly keys: readonly ReferenceKey[];
}

const FORMAT_LABELS: Readonly<Record<string, string>> = Object.freeze({
  ipv4: 'IPv4 address',
  ipv6: 'IPv6 address',
  uri: 'URL',
});

function isObjectNode(node: SchemaNode): boolean {
  return node.type === 'object' && node.properties !== undefined;
}

function recordEntry(node: SchemaNode): SchemaNode | undefined {
  if (node.type !== 'object' || node.properties !== undefined) return undefined;
  return typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
}

/** A TOML value: strings quoted, arrays and inline tables spelled out. */
export function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  return String(value);
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** The value type in an operator's words: a typeLabel from the schema, or one derived from the JSON Schema. */
export function typeLabelOf(node: SchemaNode): string {
  if (node.typeLabel !== undefined) return node.typeLabel;
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (node.const !== undefined) return `\`${tomlValue(node.const)}\``;
  if (node.anyOf !== undefined) return node.anyOf.map(typeLabelOf).join(' or ');
  if (node.format !== undefined && FORMAT_LABELS[node.format] !== undefined) return FORMAT_LABELS[node.format] ?? '';
  switch (node.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'number': {
      const word = node.type === 'integer' ? 'integer' : 'number';
      // zod gives every int the safe-integer bounds; only narrower ones say something.
      const min = node.minimum !== undefined && node.minimum > Number.MIN_SAFE_INTEGER ? node.minimum : undefined;
      const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
      if (min !== undefined && max !== undefined) return `${word} ${min} to ${max}`;
      if (min !== undefined) return `${word} >= ${min}`;
      if (max !== undefined) return `${word} <= ${max}`;
      return word;
    }
    case 'array':
      return `list of ${node.items === undefined ? 'values' : typeLabelOf(node.items)}`;
    case 'string':
      return 'string';
    default:
      return node.type ?? 'value';
  }
}

function valueAt(config: unknown, path: readonly string[]): unknown {
  let value: unknown = config;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The TOML table header of a path of keys. */
function tableName(path: readonly string[]): string {
  return path.map((p) => (p.startsWith('"') || /^[A-Z]+$/.test(p) ? p : tomlKey(p))).join('.');
}

/** Every table of the config, top level first, in schema order. */
export function configReference(): ReferenceSection[] {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
  const defaults = defaultConfig();
  const sections: ReferenceSection[] = [];

  const visit = (node: SchemaNode, path: readonly string[], meaning: string, builtIns: readonly string[]): void => {
    const keys: ReferenceKey[] = [];
    const children: (() => void)[] = [];
    const required = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const entry = recordEntry(child);
      if (isObjectNode(child)) {
        children.push(() => visit(child, [...path, key], child.description ?? '', []));
      } else if (entry !== undefined && isObjectNode(entry)) {
        // A table of tables: its entries' keys form a section named with the placeholder (NAME, "HOST").
        const keyLabel = child.keyLabel ?? 'NAME';
        const present = valueAt(defaults, [...path, key]);
        const entries = typeof present === 'object' && present !== null ? Object.entries(present) : [];
        const lines = entries.flatMap(([name, value]) => [
          `[${tableName([...path, key, name])}]`,
          ...Object.entries(value as Record<string, unknown>).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`),
        ]);
        children.push(() => visit(entry, [...path, key, keyLabel], child.description ?? '', lines));
      } else {
        keys.push({
          key,
          type: typeLabelOf(child),
          defaultToml: required.has(key) || child.default === undefined ? undefined : tomlValue(child.default),
          meaning: child.description ?? '',
        });
      }
    }
    if (keys.length > 0 || builtIns.length > 0) sections.push({ table: tableName(path), meaning, builtIns, keys });
    for (const child of children) child();
  };
  visit(schema, [], '', []);
  return sections;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The whole docs/config-reference.md. */
export function renderConfigReference(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run gen:config-reference`; do not edit. CI fails when it is stale. -->',
    '',
    `berthd reads one TOML file: \`${DEFAULT_CONFIG_PATH}\` when it exists, or the file given with \`--config\`.`,
    'Every key is optional and has the default shown; unknown keys and wrong types are errors naming the key.',
    '`berth config default` prints all of them, and [configuration.md](configuration.md) explains how they fit',
    'together.',
  ];
  for (const section of configReference()) {
    out.push('', section.table === '' ? '## Top level' : `## \`[${section.table}]\``, '');
    if (section.meaning !== '') out.push(section.meaning, '');
    if (section.builtIns.length > 0) {
      out.push('Built in (present without any config):', '', '```toml', ...section.builtIns, '```', '');
    }
    out.push('| key | type | default | meaning |', '| --- | --- | --- | --- |');
    for (const k of section.keys) {
      const def = k.defaultToml === undefined ? 'required' : `\`${k.defaultToml}\``;
      out.push(`| \`${k.key}\` | ${cell(k.type)} | ${cell(def)} | ${cell(k.meaning)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
