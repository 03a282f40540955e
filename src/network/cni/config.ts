/**
 * CNI network configuration: finding the file in conf_dir, parsing and validating it (Berth's default
 * conflist is built in config/, since `berth install` writes it too).
 * Like containerd (go-cni) and CRI-O, the first file in lexical order with a .conflist, .conf or .json
 * extension is the pod network; a single-plugin .conf/.json is wrapped into a one-plugin list as libcni's
 * ConfListFromConf does. The first file decides: a broken first file makes the network not ready rather
 * than silently falling through to a file the operator did not mean.
 */
import { access, constants, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, messageOf } from '../../base/errors.js';
import { CNI_CONFIG_EXTENSIONS, isCniConfigFile } from '../../config/index.js';
import type { JsonObject } from './types.js';

/** One plugin of a list: its raw object (sent to the plugin) plus the fields Berth reads. */
export interface PluginConfig {
  readonly type: string;
  /** Capabilities the plugin declared true ("portMappings", "bandwidth", "dns", ...). */
  readonly capabilities: readonly string[];
  readonly raw: Readonly<JsonObject>;
}

export interface NetworkConfigList {
  readonly name: string;
  readonly cniVersion: string;
  readonly disableCheck: boolean;
  readonly plugins: readonly PluginConfig[];
}

export { CNI_CONFIG_EXTENSIONS, isCniConfigFile };

/** Spec 1.0 "name": alphanumeric first, then alphanumerics, '_', '.', '-'. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A plugin type is a file name in CNI_PATH: never a path, so a config cannot run an arbitrary binary. */
const PLUGIN_TYPE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** -1, 0 or 1 as semver a is below, equal to or above b; both already validated. */
export function compareCniVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a)?.slice(1).map(Number) ?? [0, 0, 0];
  const pb = SEMVER.exec(b)?.slice(1).map(Number) ?? [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function invalid(source: string, what: string): BerthError {
  return new BerthError('FAILED_PRECONDITION', `invalid CNI network config ${source}: ${what}`);
}

function parsePlugin(raw: unknown, index: number, source: string): PluginConfig {
  if (!isObject(raw)) throw invalid(source, `plugins[${index}] is not an object`);
  const type = raw['type'];
  if (typeof type !== 'string' || type === '') throw invalid(source, `plugins[${index}] has no "type"`);
  if (!PLUGIN_TYPE.test(type)) throw invalid(source, `plugins[${index}] type "${type}" is not a plugin file name`);
  const caps = raw['capabilities'];
  if (caps !== undefined && !isObject(caps)) throw invalid(source, `plugins[${index}] "capabilities" is not an object`);
  const capabilities = Object.entries(caps ?? {})
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  return { type, capabilities, raw: { ...raw } };
}

/**
 * Parses one config file's text. `fileName` picks the format: .conflist is a list, anything else a single
 * plugin config to wrap.
 */
export function parseNetworkConfig(text: string, fileName: string): NetworkConfigList {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(fileName, `not JSON (${messageOf(err)})`);
  }
  if (!isObject(doc)) throw invalid(fileName, 'not a JSON object');
  const name = doc['name'];
  const cniVersion = doc['cniVersion'];
  if (typeof name !== 'string' || name === '') throw invalid(fileName, 'no "name"');
  if (!NETWORK_NAME.test(name)) throw invalid(fileName, `network name "${name}" has characters CNI does not allow`);
  if (typeof cniVersion !== 'string' || cniVersion === '') throw invalid(fileName, 'no "cniVersion"');
  if (!SEMVER.test(cniVersion)) throw invalid(fileName, `cniVersion "${cniVersion}" is not a version like "1.0.0"`);

  if (!fileName.endsWith('.conflist')) {
    return { name, cniVersion, disableCheck: false, plugins: [parsePlugin(doc, 0, fileName)] };
  }
  const plugins = doc['plugins'];
  if (!Array.isArray(plugins) || plugins.length === 0) throw invalid(fileName, 'no "plugins"');
  const disableCheck = doc['disableCheck'];
  if (disableCheck !== undefined && typeof disableCheck !== 'boolean') {
    throw invalid(fileName, '"disableCheck" is not a boolean');
  }
  return {
    name,
    cniVersion,
    disableCheck: disableCheck === true,
    plugins: plugins.map((p: unknown, i) => parsePlugin(p, i, fileName)),
  };
}

/** The first executable `type` in the bin dirs, as libcni's FindInPath; undefined when none has it. */
export async function findPluginBinary(type: string, binDirs: readonly string[]): Promise<string | undefined> {
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not in this dir: try the next
    }
  }
  return undefined;
}

/** Throws FAILED_PRECONDITION naming every plugin of the list that no bin dir holds. */
export async function checkPluginBinaries(
  list: NetworkConfigList,
  binDirs: readonly string[],
  source: string,
): Promise<void> {
  const missing: string[] = [];
  for (const type of new Set(list.plugins.map((p) => p.type))) {
    if ((await findPluginBinary(type, binDirs)) === undefined) missing.push(type);
  }
  if (missing.length > 0) {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `CNI network config ${source}: plugin ${missing.map((m) => `"${m}"`).join(', ')} not found in ${binDirs.join(':')}`,
    );
  }
}

/** The config files of a conf dir in the order CNI runtimes consider them; [] when the dir is missing. */
export async function listConfigFiles(confDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(confDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BerthError('UNAVAILABLE', `read CNI conf_dir ${confDir}: ${messageOf(err)}`, { cause: err });
  }
  // Plain code-unit order is byte order for the ASCII names config files have: what Go's sort.Strings gives.
  return names.filter(isCniConfigFile).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export type ConfigState =
  | { readonly kind: 'none'; readonly message: string }
  | { readonly kind: 'invalid'; readonly file: string; readonly fingerprint: string; readonly message: string }
  | {
      readonly kind: 'ok';
      readonly file: string;
      readonly fingerprint: string;
      readonly config: NetworkConfigList;
    };

/**
 * What identifies one version of the chosen file without reading it: a changed name, inode (rename over),
 * size or mtime means reload.
 */
export async function fingerprintOf(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    return `${path}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** Loads and validates the network config of a conf dir (the first file decides; see the header). */
export async function loadConfDir(confDir: string, binDirs: readonly string[]): Promise<ConfigState> {
  const files = await listConfigFiles(confDir);
  const first = files[0];
  if (first === undefined) {
    return { kind: 'none', message: `network plugin is not ready: no CNI network config found in ${confDir}` };
  }
  const file = join(confDir, first);
  const fingerprint = (await fingerprintOf(file)) ?? file;
  try {
    const config = parseNetworkConfig(await readFile(file, 'utf8'), file);
    await checkPluginBinaries(config, binDirs, file);
    return { kind: 'ok', file, fingerprint, config };
  } catch (err) {
    return { kind: 'invalid', file, fingerprint, message: `network plugin is not ready: ${messageOf(err)}` };
  }
}

/** containerd's (go-cni WithLoNetwork) loopback network: 0.3.1 so even old loopback binaries accept it. */
export const LOOPBACK_NETWORK: NetworkConfigList = Object.freeze({
  name: 'cni-loopback',
  cniVersion: '0.3.1',
  disableCheck: false,
  plugins: Object.freeze([
    Object.freeze({ type: 'loopback', capabilities: [], raw: Object.freeze({ type: 'loopback' }) }),
  ]),
});
