/**
 * `berth install` / `berth uninstall`: put Berth on a node as a systemd service, and take it off again.
 *
 * install writes berthd.service (packaging/ template, this installation's paths), the default config when
 * there is none, the default CNI conflist when conf_dir holds no network config, and with --crictl an
 * /etc/crictl.yaml pointing at Berth's socket; an existing unit or crictl.yaml is replaced only with
 * --force, an existing config never. Then `systemctl daemon-reload` + `enable` when systemd runs the host.
 * uninstall removes what install wrote (files carrying its marker), after `systemctl disable --now`; the
 * config, CNI conflist, root and state stay unless --purge. The directories install had to create are
 * recorded in <root>/install.json, so uninstall removes them again once they are empty. Every path can be
 * put under --root-dir, so tests (and image builds) never touch the real /etc.
 */
import { readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';
import { messageOf } from '../base/errors.js';
import { ensureDir, pathExists, writeFileAtomic } from '../base/fs.js';
import {
  DEFAULT_CNI_CONFIG_FILE,
  defaultCniConfigList,
  defaultConfig,
  isCniConfigFile,
  parseConfigToml,
  renderCniConfigList,
  renderConfigToml,
} from '../config/index.js';
import type { Config } from '../config/index.js';
import { CliError } from './errors.js';
import { INSTALL_MARKER, UNIT_NAME, readUnitTemplate, renderUnit } from './service-unit.js';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_CRICTL_CONFIG = '/etc/crictl.yaml';
const CONFIG_MODE = 0o600; // it may come to hold registry credentials
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const ROOT_DIR_MODE = 0o711; // as berthd creates it
const SOCKET_PROBE_TIMEOUT_MS = 1000;
/** In the config's root: which directories install created (target paths), for uninstall. */
export const INSTALL_MANIFEST = 'install.json';

/** Where things go. Each is an absolute path on the target system, placed under rootDir. */
export interface InstallPaths {
  /** "/" for this host; a staging directory for tests and image builds. */
  readonly rootDir: string;
  /** The files are for another system (--root-dir): leave this host's systemd alone, need no root. */
  readonly isStaging: boolean;
  readonly unitDir: string;
  readonly configPath: string;
  readonly crictlConfigPath: string;
}

export interface InstallOptions extends InstallPaths {
  /** berthd's argv in ExecStart: [node, main.js] or [berthd]. */
  readonly berthd: readonly string[];
  readonly oomScoreAdj: number | undefined;
  readonly isCrictl: boolean;
  readonly isForce: boolean;
  /** Run systemctl when systemd is the init (false: --no-systemctl). */
  readonly isSystemctl: boolean;
  /** `systemctl enable --now`: start berthd too. */
  readonly isNow: boolean;
}

export interface UninstallOptions extends InstallPaths {
  readonly isPurge: boolean;
  readonly isForce: boolean;
  readonly isSystemctl: boolean;
}

/** What install and uninstall do to the host besides files: injectable for tests. */
export interface HostOps {
  isRoot(): boolean;
  /** The name of PID 1 ("systemd" when systemd is the init). */
  initName(): Promise<string>;
  systemctl(args: readonly string[]): Promise<void>;
  /** Every mount point of this mount namespace. */
  mountPoints(): Promise<string[]>;
  /** One line of the report. */
  say(line: string): void;
}

function inRoot(paths: InstallPaths, path: string): string {
  return join(paths.rootDir, path);
}

function assertRoot(paths: InstallPaths, verb: string, ops: HostOps): void {
  if (!paths.isStaging && !ops.isRoot()) {
    throw new CliError(
      `berth ${verb} changes /etc and systemd: run it as root (or give --root-dir for a staging tree)`,
    );
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${messageOf(err)}`);
  }
}

/**
 * Files install writes, and the directories it had to create for them (target paths, not under rootDir),
 * so that uninstall can remove those directories again and nothing else.
 */
class InstallWriter {
  readonly createdDirs = new Set<string>();

  constructor(readonly paths: InstallPaths) {}

  /** Creates the target directory `dir` (and missing parents), recording each one created. */
  async ensureDir(dir: string, mode: number): Promise<void> {
    const missing: string[] = [];
    for (let d = dir; d !== dirname(d) && !(await pathExists(inRoot(this.paths, d))); d = dirname(d)) missing.push(d);
    await ensureDir(inRoot(this.paths, dir), mode);
    for (const d of missing) this.createdDirs.add(d);
  }

  /** Writes the target file `path` atomically. */
  async write(path: string, text: string, mode: number): Promise<void> {
    await this.ensureDir(dirname(path), DIR_MODE);
    await writeFileAtomic(inRoot(this.paths, path), text, mode);
  }
}

async function readManifest(paths: InstallPaths, root: string): Promise<string[]> {
  const text = await readIfExists(inRoot(paths, join(root, INSTALL_MANIFEST)));
  if (text === undefined) return [];
  try {
    const doc = JSON.parse(text) as { createdDirs?: unknown };
    return Array.isArray(doc.createdDirs) ? doc.createdDirs.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}

/** Removes the recorded directories that are empty now, deepest first; the others stay. */
async function removeEmptyDirs(paths: InstallPaths, dirs: readonly string[], ops: HostOps): Promise<void> {
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    const path = inRoot(paths, dir);
    if (!(await pathExists(path))) continue;
    await rmdir(path).then(
      () => ops.say(`removed ${path}`),
      () => undefined, // not empty: it holds something install did not write
    );
  }
}

/** The config install and uninstall work with: the file's (validated) or the defaults. */
async function readConfig(paths: InstallPaths): Promise<{ config: Config; text: string | undefined; path: string }> {
  const path = inRoot(paths, paths.configPath);
  const text = await readIfExists(path);
  return { config: text === undefined ? defaultConfig() : parseConfigToml(text, path), text, path };
}

export function crictlConfigText(socketPath: string): string {
  return [
    `# ${INSTALL_MARKER}: crictl talks to Berth. \`berth uninstall\` removes this file.`,
    `runtime-endpoint: unix://${socketPath}`,
    `image-endpoint: unix://${socketPath}`,
    'timeout: 10',
    '',
  ].join('\n');
}

/** Writes `text` unless an equal file is there; a different one is replaced only with force. */
async function writeOwned(
  writer: InstallWriter,
  target: { path: string; text: string; isForce: boolean; hint: string },
  ops: HostOps,
): Promise<void> {
  const path = inRoot(writer.paths, target.path);
  const existing = await readIfExists(path);
  if (existing === target.text) {
    ops.say(`unchanged ${path}`);
  } else if (existing !== undefined && !target.isForce) {
    ops.say(`kept ${path}: it differs from what berth install writes (--force replaces it${target.hint})`);
  } else {
    await writer.write(target.path, target.text, FILE_MODE);
    ops.say(`${existing === undefined ? 'wrote' : 'replaced'} ${path}`);
  }
}

async function firstCniConfig(confDir: string): Promise<string | undefined> {
  const names = await readdir(confDir).catch(() => [] as string[]);
  return names.filter(isCniConfigFile).sort()[0];
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Warnings about what berthd will report not ready on this host; install goes on regardless. */
async function notesOnReadiness(paths: InstallPaths, config: Config, ops: HostOps): Promise<void> {
  const cri = config.plugins.cri;
  const runtime = cri.containerd.runtimes[cri.containerd.default_runtime_name];
  const binaries = [
    ...(runtime === undefined
      ? []
      : [{ what: `runtime ${cri.containerd.default_runtime_name}`, path: runtime.binary }]),
    { what: 'conmon', path: cri.conmon_path },
  ];
  for (const { what, path } of binaries) {
    if (!(await isExecutableFile(inRoot(paths, path)))) {
      ops.say(`note: ${what} is not installed at ${path}: berthd reports RuntimeReady=false until it is`);
    }
  }
}

function foregroundCommand(options: InstallOptions): string {
  return [...options.berthd, '--config', options.configPath, '--log-format', 'text'].join(' ');
}

export async function installNode(options: InstallOptions, ops: HostOps): Promise<void> {
  assertRoot(options, 'install', ops);
  const writer = new InstallWriter(options);
  const { config, text, path: configFile } = await readConfig(options);
  if (text === undefined) {
    await writer.write(options.configPath, renderConfigToml(config), CONFIG_MODE);
    ops.say(`wrote ${configFile} (the defaults: berth config default)`);
  } else {
    ops.say(`kept ${configFile} (exists; install never replaces a config)`);
  }

  const cni = config.plugins.cri.cni;
  const existingCni = await firstCniConfig(inRoot(options, cni.conf_dir));
  if (existingCni === undefined) {
    const file = join(cni.conf_dir, DEFAULT_CNI_CONFIG_FILE);
    await writer.write(file, renderCniConfigList(defaultCniConfigList(cni.default_subnet)), FILE_MODE);
    ops.say(`wrote ${inRoot(options, file)} (bridge network ${cni.default_subnet})`);
  } else {
    ops.say(`kept ${inRoot(options, cni.conf_dir)}: it holds a network config (${existingCni})`);
  }

  const unit = renderUnit(await readUnitTemplate(), {
    berthd: options.berthd,
    configPath: options.configPath,
    oomScoreAdj: options.oomScoreAdj,
  });
  const unitHint = '; local changes belong in a drop-in: systemctl edit berthd';
  const unitPath = join(options.unitDir, UNIT_NAME);
  await writeOwned(writer, { path: unitPath, text: unit, isForce: options.isForce, hint: unitHint }, ops);
  if (options.isCrictl) {
    const crictl = crictlConfigText(config.grpc.address);
    await writeOwned(writer, { path: options.crictlConfigPath, text: crictl, isForce: options.isForce, hint: '' }, ops);
  }

  // Record the directories created now (and by an earlier install) for uninstall.
  await writer.ensureDir(config.root, ROOT_DIR_MODE);
  const recorded = await readManifest(options, config.root);
  const createdDirs = [...new Set([...recorded, ...writer.createdDirs])].sort();
  await writer.write(join(config.root, INSTALL_MANIFEST), `${JSON.stringify({ createdDirs }, null, 2)}\n`, FILE_MODE);

  if (!options.isStaging) await notesOnReadiness(options, config, ops);
  if (!options.isSystemctl) {
    ops.say('skipped systemctl (--no-systemctl)');
  } else if (options.isStaging) {
    ops.say(
      `not running systemctl for --root-dir ${options.rootDir}: on that system run systemctl enable --now berthd`,
    );
  } else if ((await ops.initName()) !== 'systemd') {
    ops.say(`systemd is not the init here (PID 1 is ${await ops.initName()}): run berthd in the foreground with`);
    ops.say(`  ${foregroundCommand(options)}`);
  } else {
    await ops.systemctl(['daemon-reload']);
    ops.say('ran systemctl daemon-reload');
    const enable = options.isNow ? ['enable', '--now', UNIT_NAME] : ['enable', UNIT_NAME];
    await ops.systemctl(enable);
    ops.say(`ran systemctl ${enable.join(' ')}`);
    if (!options.isNow) ops.say('start it with: systemctl start berthd');
  }
}

/** Whether some process accepts connections on the unix socket (a running berthd). */
function isAccepting(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (result: boolean): void => {
      sock.destroy();
      resolve(result);
    };
    sock.setTimeout(SOCKET_PROBE_TIMEOUT_MS, () => done(true));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Mount points of /proc/self/mountinfo (field 5, octal escapes such as \040 decoded). */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && p !== '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

function isSameOrBelow(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/**
 * --purge deletes whole trees, so it only takes directories that are clearly Berth's: a path with a
 * component naming berth (/var/lib/berth, /run/berth), never "/" or "/var" from a mistyped config.
 */
function assertPurgeable(dir: string): void {
  if (!dir.split('/').some((part) => part.toLowerCase().includes('berth'))) {
    throw new CliError(`--purge removes only directories named for Berth; ${dir} is not: remove it by hand`);
  }
}

export async function uninstallNode(options: UninstallOptions, ops: HostOps): Promise<void> {
  assertRoot(options, 'uninstall', ops);
  const { config, text, path: configFile } = await readConfig(options);
  const dataDirs = [config.root, config.state];
  if (options.isPurge) dataDirs.forEach(assertPurgeable);
  const createdDirs = await readManifest(options, config.root);

  const unitFile = inRoot(options, join(options.unitDir, UNIT_NAME));
  const unit = await readIfExists(unitFile);
  const isOurUnit = unit !== undefined && (unit.includes(INSTALL_MARKER) || options.isForce);
  const useSystemctl = options.isSystemctl && !options.isStaging && (await ops.initName()) === 'systemd';
  if (useSystemctl && isOurUnit) {
    // Stops berthd only: KillMode=process leaves conmon and the containers running.
    await ops.systemctl(['disable', '--now', UNIT_NAME]);
    ops.say(`ran systemctl disable --now ${UNIT_NAME}`);
  }

  if (options.isPurge) {
    const socket = inRoot(options, config.grpc.address);
    if (await isAccepting(socket)) {
      throw new CliError(`berthd is still running (${socket} accepts connections): stop it, then run this again`);
    }
    const rootedDirs = dataDirs.map((d) => inRoot(options, d));
    const busy = (await ops.mountPoints()).filter((m) => rootedDirs.some((d) => isSameOrBelow(m, d)));
    if (busy.length > 0) {
      throw new CliError(
        `${busy.length} mount(s) below ${rootedDirs.join(' and ')} (pods or containers still exist, e.g. ${busy[0]}): ` +
          'start berthd, remove them (berth rmp --all), stop it, then run this again',
      );
    }
  }

  if (unit === undefined) {
    ops.say(`no ${unitFile}`);
  } else if (isOurUnit) {
    await rm(unitFile, { force: true });
    ops.say(`removed ${unitFile}`);
    if (useSystemctl) {
      await ops.systemctl(['daemon-reload']);
      ops.say('ran systemctl daemon-reload');
    }
  } else {
    ops.say(`kept ${unitFile}: berth install did not write it (--force removes it)`);
  }

  const crictlFile = inRoot(options, options.crictlConfigPath);
  const crictl = await readIfExists(crictlFile);
  if (crictl !== undefined && crictl.includes(INSTALL_MARKER)) {
    await rm(crictlFile, { force: true });
    ops.say(`removed ${crictlFile}`);
  }

  const conflist = inRoot(options, join(config.plugins.cri.cni.conf_dir, DEFAULT_CNI_CONFIG_FILE));
  if (!options.isPurge) {
    // Directories made only for the unit or crictl.yaml go with them; the rest holds what stays.
    await removeEmptyDirs(options, createdDirs, ops);
    const kept = [...(text === undefined ? [] : [configFile]), conflist, ...dataDirs.map((d) => inRoot(options, d))];
    const existing = [];
    for (const path of kept) if (await pathExists(path)) existing.push(path);
    if (existing.length > 0) ops.say(`kept ${existing.join(', ')} (--purge removes them)`);
    return;
  }
  for (const dir of dataDirs.map((d) => inRoot(options, d))) {
    if (await pathExists(dir)) {
      await rm(dir, { recursive: true, force: true });
      ops.say(`removed ${dir}`);
    }
  }
  for (const file of [inRoot(options, config.grpc.address), conflist, configFile]) {
    if (await pathExists(file)) {
      await rm(file, { force: true });
      ops.say(`removed ${file}`);
    }
  }
  await removeEmptyDirs(options, createdDirs, ops);
}
