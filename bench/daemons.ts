/**
 * Starting and stopping the daemons under test. Each start gets a fresh temp dir (root, state, socket, CNI
 * conf dir, config file) under the OS temp dir; stop() sends SIGTERM, SIGKILL after 10 s, then removes the
 * dir (unless something is still mounted below it). A DaemonPool tracks live daemons so an interrupted run
 * stops them all.
 *
 * start() returns as soon as the process is spawned, with spawnedAtNs taken just before spawn(); waitReady()
 * polls CRI Version until it answers. killAndRestart() crashes a daemon (SIGKILL) and starts it again on the same
 * dir, as a node whose runtime crashed and was restarted by systemd. Both daemons go through the same code here and the same CriClient.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CriClient } from './cri-client.js';
import { BERTHD_MAIN, CONTAINERD_BIN, PACKAGE_JSON, REPO_ROOT } from './paths.js';

const execFileAsync = promisify(execFile);

export const DAEMON_NAMES = ['berth', 'containerd'] as const;
export type DaemonName = (typeof DAEMON_NAMES)[number];

/** containerd's sandbox_image; the benchmarks import one under this name (pause-image.ts). */
export const CONTAINERD_SANDBOX_IMAGE = 'registry.k8s.io/pause:3.6';

const STOP_GRACE_MS = 10_000;
const KILL_WAIT_MS = 5_000;
const STDERR_TAIL_BYTES = 16 * 1024;

/** A running daemon under test. */
export interface Daemon {
  readonly name: DaemonName;
  /** unix:///…/x.sock */
  readonly endpoint: string;
  /** Of the current process (killAndRestart spawns a new one). */
  readonly pid: number;
  /** process.hrtime.bigint() just before the current process's spawn(). */
  readonly spawnedAtNs: bigint;
  /** The temp dir holding its root, state, socket and config. */
  readonly dir: string;
  hasExited(): boolean;
  /**
   * A crash and a restart: SIGKILL (the daemon cleans nothing up), wait for the exit, then spawn the same
   * command on the same dir. pid and spawnedAtNs then describe the new process.
   */
  killAndRestart(): Promise<void>;
  /** "exit code 1", "signal SIGKILL", or "running". */
  exitStatus(): string;
  /** The last stderr output, for error messages. */
  stderrTail(): string;
  /** SIGTERM, SIGKILL after 10 s, then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** What a benchmark may ask of a daemon it starts. */
export interface StartOptions {
  /** "127.0.0.1:PORT" registries the daemon must reach over plain HTTP (Berth does so for loopback itself). */
  readonly registryHosts?: readonly string[];
  /** A CNI network config list written into the daemon's own conf dir (both daemons read it from there). */
  readonly cniConflist?: unknown;
}

/** How to run one kind of daemon. */
export interface DaemonDriver {
  readonly name: DaemonName;
  /** Column title: "Berth", "containerd". */
  readonly label: string;
  /** Why it cannot run here (binary not built or not installed), or undefined. */
  unavailableReason(): Promise<string | undefined>;
  /** Version string for the record, e.g. "0.1.0 (a1b2c3d)" or "1.6.20~ds1". */
  version(): Promise<string>;
  /** Spawns the daemon on a fresh temp dir; does not wait for it to answer. */
  start(options?: StartOptions): Promise<Daemon>;
}

interface SpawnSpec {
  readonly name: DaemonName;
  readonly dir: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly socketPath: string;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Mount points at or below dir (a daemon that crashed mid-way could leave some): never rm -rf through them. */
async function mountsBelow(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return text
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

async function removeTempDir(dir: string): Promise<void> {
  const mounts = await mountsBelow(dir);
  if (mounts.length > 0) {
    process.stderr.write(`bench: left ${dir} in place: still mounted below it: ${mounts.join(', ')}\n`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
}

interface Launched {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAtNs: bigint;
}

async function spawnDaemon(spec: SpawnSpec): Promise<Daemon> {
  let stderr = '';
  const launch = async (): Promise<Launched> => {
    const spawnedAtNs = process.hrtime.bigint();
    const child = spawn(spec.file, spec.args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: spec.dir });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`${spec.name}: cannot spawn ${spec.file}: ${err.message}`);
    }
    return { child, pid, spawnedAtNs };
  };
  let current: Launched;
  try {
    current = await launch();
  } catch (err) {
    await removeTempDir(spec.dir);
    throw err;
  }
  const hasExited = (): boolean => current.child.exitCode !== null || current.child.signalCode !== null;
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const { child, pid } = current;
    if (!(await waitForExit(child, 0))) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, STOP_GRACE_MS))) {
        process.stderr.write(`bench: ${spec.name} (pid ${pid}) ignored SIGTERM for ${STOP_GRACE_MS} ms; SIGKILL\n`);
        child.kill('SIGKILL');
        await waitForExit(child, KILL_WAIT_MS);
      }
    }
    await removeTempDir(spec.dir);
  };
  const killAndRestart = async (): Promise<void> => {
    if (stopping !== undefined) throw new Error(`${spec.name}: killAndRestart after stop`);
    const { child, pid } = current;
    child.kill('SIGKILL');
    if (!(await waitForExit(child, KILL_WAIT_MS))) throw new Error(`${spec.name} (pid ${pid}) survived SIGKILL`);
    current = await launch();
  };
  return {
    name: spec.name,
    endpoint: `unix://${spec.socketPath}`,
    get pid() {
      return current.pid;
    },
    get spawnedAtNs() {
      return current.spawnedAtNs;
    },
    dir: spec.dir,
    hasExited,
    exitStatus: () => {
      const { child } = current;
      return child.exitCode !== null
        ? `exit code ${child.exitCode}`
        : child.signalCode !== null
          ? `signal ${child.signalCode}`
          : 'running';
    },
    stderrTail: () => stderr,
    killAndRestart,
    stop: () => (stopping ??= stop()),
  };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** TOML basic strings accept JSON's escapes for everything a temp path can hold. */
const tomlString = (s: string): string => JSON.stringify(s);

export function berthConfigToml(dir: string): string {
  return [
    `root = ${tomlString(join(dir, 'root'))}`,
    `state = ${tomlString(join(dir, 'state'))}`,
    '[grpc]',
    `address = ${tomlString(join(dir, 'state', 'berth.sock'))}`,
    '[plugins.cri]',
    'stream_server_port = 0',
    '[plugins.cri.cni]',
    `conf_dir = ${tomlString(join(dir, 'cni'))}`,
    '',
  ].join('\n');
}

/**
 * containerd 1.6 config (version 2): everything under dir, logs at warn, nothing listening beyond the two unix
 * sockets and the CRI stream server on 127.0.0.1. No registry is configured (config_path is an empty dir;
 * image-pull adds a hosts.toml for its registry). No AppArmor on this machine: containerd detects that itself and says
 * nothing, so disable_apparmor keeps its default.
 */
export function containerdConfigToml(dir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${tomlString(join(dir, 'root'))}`,
    `state = ${tomlString(join(dir, 'state'))}`,
    '',
    '[grpc]',
    `  address = ${tomlString(join(dir, 'containerd.sock'))}`,
    '[ttrpc]',
    `  address = ${tomlString(join(dir, 'containerd.sock.ttrpc'))}`,
    '[debug]',
    '  address = ""',
    '  level = "warn"',
    '[metrics]',
    '  address = ""',
    '',
    '# The default is /opt/containerd: keep every file of the run under its temp dir.',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${tomlString(join(dir, 'opt'))}`,
    '',
    `[${cri}]`,
    `  sandbox_image = ${tomlString(CONTAINERD_SANDBOX_IMAGE)}`,
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    "  # This machine's root lacks CAP_SYS_RESOURCE: never ask runc for an oom_score_adj below containerd's own.",
    '  restrict_oom_score_adj = true',
    `  [${cri}.cni]`,
    '    bin_dir = "/usr/lib/cni"',
    `    conf_dir = ${tomlString(join(dir, 'cni'))}`,
    `  [${cri}.registry]`,
    `    config_path = ${tomlString(join(dir, 'certs.d'))}`,
    '',
  ].join('\n');
}

/** containerd's hosts.toml sending one registry host to itself over plain HTTP. */
export function containerdPlainHttpHost(host: string): string {
  return [
    `server = ${tomlString(`http://${host}`)}`,
    `[host.${tomlString(`http://${host}`)}]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
}

async function makeRunDir(name: DaemonName, subdirs: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `berth-bench-${name}-`));
  for (const sub of subdirs) await mkdir(join(dir, sub), { recursive: true });
  return dir;
}

async function gitDescribe(): Promise<string | undefined> {
  try {
    const { stdout: head } = await execFileAsync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
    const { stdout: status } = await execFileAsync('git', [
      '-C',
      REPO_ROOT,
      'status',
      '--porcelain',
      '--untracked-files=no',
      // The results file changes with every recorded run: it says nothing about the code under test.
      '--',
      '.',
      ':(exclude)BENCHMARKS.md',
    ]);
    return `${head.trim()}${status.trim() === '' ? '' : ', with uncommitted changes'}`;
  } catch {
    return undefined; // not a git checkout, or no commit yet
  }
}

export interface BerthDriverOptions {
  /** Node options put before berthd's script, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] (not allowed in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
}

export class BerthDriver implements DaemonDriver {
  readonly name = 'berth';
  readonly label = 'Berth';

  constructor(private readonly options: BerthDriverOptions = {}) {}

  async unavailableReason(): Promise<string | undefined> {
    try {
      await access(BERTHD_MAIN);
      return undefined;
    } catch {
      return `${BERTHD_MAIN} is not built (npm run build)`;
    }
  }

  async version(): Promise<string> {
    const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version?: unknown };
    const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    const git = await gitDescribe();
    return git === undefined ? version : `${version} (${git})`;
  }

  async start(options: StartOptions = {}): Promise<Daemon> {
    const dir = await makeRunDir('berth', ['cni']);
    const configPath = join(dir, 'config.toml');
    await writeFile(configPath, berthConfigToml(dir));
    if (options.cniConflist !== undefined) {
      await writeFile(join(dir, 'cni', '10-bench.conflist'), JSON.stringify(options.cniConflist));
    }
    return spawnDaemon({
      name: this.name,
      dir,
      file: process.execPath,
      args: [...(this.options.nodeArgs ?? []), BERTHD_MAIN, '--config', configPath, '--log-level', 'warn'],
      socketPath: join(dir, 'state', 'berth.sock'),
    });
  }
}

export class ContainerdDriver implements DaemonDriver {
  readonly name = 'containerd';
  readonly label = 'containerd';

  async unavailableReason(): Promise<string | undefined> {
    return (await isExecutable(CONTAINERD_BIN))
      ? undefined
      : `${CONTAINERD_BIN} is not installed (apt-get install containerd)`;
  }

  /** `containerd --version` prints "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3". */
  async version(): Promise<string> {
    const { stdout } = await execFileAsync(CONTAINERD_BIN, ['--version']);
    const words = stdout.trim().split(/\s+/);
    return words.length >= 4 ? `${words[2]} (${words.slice(3).join(' ')})` : stdout.trim();
  }

  async start(options: StartOptions = {}): Promise<Daemon> {
    const dir = await makeRunDir('containerd', ['cni', 'certs.d']);
    const configPath = join(dir, 'config.toml');
    await writeFile(configPath, containerdConfigToml(dir));
    if (options.cniConflist !== undefined) {
      await writeFile(join(dir, 'cni', '10-bench.conflist'), JSON.stringify(options.cniConflist));
    }
    for (const host of options.registryHosts ?? []) {
      await mkdir(join(dir, 'certs.d', host), { recursive: true });
      await writeFile(join(dir, 'certs.d', host, 'hosts.toml'), containerdPlainHttpHost(host));
    }
    return spawnDaemon({
      name: this.name,
      dir,
      file: CONTAINERD_BIN,
      args: ['--config', configPath],
      socketPath: join(dir, 'containerd.sock'),
    });
  }
}

export function makeDriver(name: DaemonName, berthOptions: BerthDriverOptions = {}): DaemonDriver {
  switch (name) {
    case 'berth':
      return new BerthDriver(berthOptions);
    case 'containerd':
      return new ContainerdDriver();
    default: {
      const never: never = name;
      throw new Error(`unknown daemon ${String(never)}`);
    }
  }
}

export interface WaitReadyOptions {
  /** Pause between failed attempts. */
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

/**
 * Polls CRI Version, each attempt on a fresh isolated client (see CriClientOptions.isolated), until it
 * succeeds; returns process.hrtime.bigint() at the successful answer. Throws when the daemon exits or the
 * timeout passes, with its stderr tail.
 */
export async function waitReady(daemon: Daemon, options: WaitReadyOptions = {}): Promise<bigint> {
  const intervalMs = options.intervalMs ?? 5;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadlineNs = daemon.spawnedAtNs + BigInt(timeoutMs) * 1_000_000n;
  let lastError: string;
  for (;;) {
    if (daemon.hasExited()) {
      throw new Error(
        `${daemon.name} exited (${daemon.exitStatus()}) before answering Version:\n${daemon.stderrTail()}`,
      );
    }
    const client = new CriClient(daemon.endpoint, { isolated: true });
    try {
      await client.version({ deadlineMs: 2_000 });
      return process.hrtime.bigint();
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      client.close();
    }
    if (process.hrtime.bigint() > deadlineNs) {
      throw new Error(
        `${daemon.name} did not answer Version within ${timeoutMs} ms (last error: ${lastError}):\n${daemon.stderrTail()}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Live daemons of this run, so an interrupted run (SIGINT) stops them all. */
export class DaemonPool {
  private readonly live = new Set<Daemon>();

  async start(driver: DaemonDriver, options: StartOptions = {}): Promise<Daemon> {
    const daemon = await driver.start(options);
    this.live.add(daemon);
    // Delegates (no spread: pid and spawnedAtNs are getters that change on killAndRestart).
    return {
      name: daemon.name,
      endpoint: daemon.endpoint,
      dir: daemon.dir,
      get pid() {
        return daemon.pid;
      },
      get spawnedAtNs() {
        return daemon.spawnedAtNs;
      },
      hasExited: () => daemon.hasExited(),
      exitStatus: () => daemon.exitStatus(),
      stderrTail: () => daemon.stderrTail(),
      killAndRestart: () => daemon.killAndRestart(),
      stop: async () => {
        try {
          await daemon.stop();
        } finally {
          this.live.delete(daemon);
        }
      },
    };
  }

  async stopAll(): Promise<void> {
    const daemons = [...this.live];
    await Promise.allSettled(daemons.map((d) => d.stop()));
    this.live.clear();
  }
}
