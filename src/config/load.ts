/** Reading, validating and printing config.toml. Errors name the file and the key path. */
import { readFile } from 'node:fs/promises';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import type { z } from 'zod';
import { BerthError, messageOf } from '../base/errors.js';
import { ConfigSchema } from './schema.js';
import type { Config } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/berth/config.toml';

/** A TOML-style key path: plugins.cri.registry.mirrors."docker.io".endpoint[0]. */
function keyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((seg, i) => {
      if (typeof seg === 'number') return `[${seg}]`;
      const key = String(seg);
      const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
      return i === 0 ? part : `.${part}`;
    })
    .join('');
}

/** One line per problem: "plugins.cri.stream_server_port: expected int, received string". */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
    }
    if (issue.code === 'invalid_type') {
      return [`${keyPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`];
    }
    return [`${keyPath(issue.path)}: ${issue.message}`];
  });
}

/** Validates an already-parsed TOML document. `source` names it in the error ("/etc/berth/config.toml"). */
export function parseConfig(doc: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(doc);
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    throw new BerthError('INVALID_ARGUMENT', `invalid config ${source}:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

export function parseConfigToml(text: string, source = 'config'): Config {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new BerthError('INVALID_ARGUMENT', `invalid config ${source}: ${messageOf(err)}`);
  }
  return parseConfig(doc, source);
}

/**
 * Loads the config: an explicit path must exist; the default path may be missing (embedded defaults apply).
 */
export async function loadConfig(path?: string): Promise<{ config: Config; source: string | null }> {
  const file = path ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { config: parseConfig({}), source: null };
    }
    throw new BerthError('INVALID_ARGUMENT', `cannot read config ${file}: ${messageOf(err)}`);
  }
  return { config: parseConfigToml(text, file), source: file };
}

export function defaultConfig(): Config {
  return parseConfig({});
}

const HEADER = `# Berth configuration (TOML). Every key below is shown with its default value;
# keys follow containerd's config.toml. Use with: berthd --config /etc/berth/config.toml
`;

/** The config as TOML that `berthd --config` accepts again. */
export function renderConfigToml(config: Config): string {
  return HEADER + '\n' + stringifyToml(config) + '\n';
}

/** The config with secrets replaced, for Status verbose info and logs. */
export function redactConfig(config: Config): Config {
  const configs = Object.fromEntries(
    Object.entries(config.plugins.cri.registry.configs).map(([host, c]) => [
      host,
      {
        ...c,
        auth: {
          username: c.auth.username,
          password: c.auth.password ? '[redacted]' : '',
          auth: c.auth.auth ? '[redacted]' : '',
          identitytoken: c.auth.identitytoken ? '[redacted]' : '',
        },
      },
    ]),
  );
  const cri = config.plugins.cri;
  return { ...config, plugins: { ...config.plugins, cri: { ...cri, registry: { ...cri.registry, configs } } } };
}
