/**
 * Starts an isolated berthd for an integration test: its own temp root, state dir, socket, CNI conf dir
 * and a free stream port, from a TOML config the test can extend. stop() sends SIGTERM and waits;
 * kill() sends SIGKILL (crash tests). Both remove the temp dirs unless keep: true.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { RuntimeServiceClient, ImageServiceClient } from '../../src/api/gen/cri.js';
import { AdminClient } from '../../src/api/gen/admin.js';
import { BERTH_MAIN, BERTHD_MAIN } from './paths.js';
import { mountsBelow, writeTestNetwork } from './test-network.js';
import type { TestNetwork } from './test-network.js';

export interface BerthdOptions {
  /** Extra TOML appended to the generated config (sections must not repeat the generated ones). */
  readonly extraToml?: string;
  /** Extra `key = value` lines for the generated [plugins.cri] section (TOML forbids repeating it). */
  readonly criToml?: string;
  /** The CNI conf_dir (default: a dir of the test's own). */
  readonly cniConfDir?: string;
  /** Extra `key = value` lines for the generated [plugins.cri.cni] section (bin_dir, plugin_timeout). */
  readonly cniToml?: string;
  /** A root dir of the caller's (e.g. a small tmpfs it mounted) instead of <temp dir>/root. */
  readonly root?: string;
  /**
   * 'test' (default): a network of its own (harness/test-network.ts); 'empty': nothing in conf_dir, so berthd
   * writes its default conflist; 'broken': an unreadable conflist, so NetworkReady is false.
   */
  readonly cni?: 'test' | 'empty' | 'broken';
  readonly logLevel?: string;
  /** More berthd arguments (`--log-format text`). */
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /** Extra environment for berthd (crash tests arm BERTH_CRASH_POINT); restartBerthd does not carry it over. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Berthd {
  /** The test's own CNI network, unless started with cni 'empty' or 'broken'. */
  readonly network: TestNetwork | undefined;
  readonly dir: string;
  readonly root: string;
  readonly state: string;
  readonly socketPath: string;
  readonly address: string;
  readonly configPath: string;
  readonly cniConfDir: string;
  readonly process: ChildProcess;
  /** stderr collected so far (pino JSON lines). */
  stderr(): string;
  runtime(): RuntimeServiceClient;
  image(): ImageServiceClient;
  admin(): AdminClient;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait, leaving the dirs (for restart tests) unless cleanup() is called. */
  kill(): Promise<void>;
  cleanup(): Promise<void>;
}

const KUBELET_MAX_MESSAGE = 16 * 1024 * 1024;

export async function makeTempDir(prefix = 'berth-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function baseConfigToml(
  dir: string,
  cniConfDir: string,
  criToml = '',
  cniToml = '',
  root = `${dir}/root`,
): string {
  return [
    `root = "${root}"`,
    `state = "${dir}/state"`,
    '[grpc]',
    `address = "${dir}/state/berth.sock"`,
    '[plugins.cri]',
    'stream_server_port = 0',
    ...(criToml === '' ? [] : [criToml.trimEnd()]),
    '[plugins.cri.cni]',
    `conf_dir = "${cniConfDir}"`,
    ...(cniToml === '' ? [] : [cniToml.trimEnd()]),
    '',
  ].join('\n');
}

export function waitForExit(proc: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`process ${proc.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Polls Version until it answers (or the process dies), with a fresh client each time: a channel whose first
 * connect failed (no socket yet, or a dead daemon's stale one) waits out grpc-js's reconnect backoff (1 s, then
 * 1.6 s...) before it tries again, which made every start and restart ~2 s slower than berthd.
 */
async function waitReady(address: string, proc: ChildProcess, stderr: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode} during startup:\n${stderr()}`);
    const client = new RuntimeServiceClient(address, credentials.createInsecure());
    const ok = await new Promise<boolean>((resolve) => {
      client.version({ version: 'v1' }, (err) => resolve(err === null));
    });
    client.close();
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`berthd did not answer Version within ${timeoutMs} ms:\n${stderr()}`);
}

/** Runs berthd with the given argv to completion (for --dry-run and startup-failure tests). */
export function runBerthdSync(args: readonly string[], timeoutMs = 20_000) {
  return spawnSync(process.execPath, [BERTHD_MAIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

/** Runs the berth CLI to completion. */
export function runBerth(args: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 20_000) {
  return spawnSync(process.execPath, [BERTH_MAIN, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
}

export async function startBerthd(options: BerthdOptions = {}): Promise<Berthd> {
  const dir = await makeTempDir();
  const cniConfDir = options.cniConfDir ?? join(dir, 'cni');
  await mkdir(cniConfDir, { recursive: true });
  const cni = options.cni ?? 'test';
  const network = cni === 'test' ? await writeTestNetwork(cniConfDir) : undefined;
  if (cni === 'broken') await writeFile(join(cniConfDir, '10-broken.conflist'), '{ not json');
  const configPath = join(dir, 'config.toml');
  const toml = baseConfigToml(dir, cniConfDir, options.criToml, options.cniToml, options.root);
  await writeFile(configPath, toml + (options.extraToml ?? ''));
  return launch({ dir, configPath, cniConfDir, network, root: options.root ?? join(dir, 'root'), options });
}

/** Starts berthd again on the dirs of an earlier (stopped or killed) instance. */
export function restartBerthd(previous: Berthd, options: BerthdOptions = {}): Promise<Berthd> {
  return launch({
    dir: previous.dir,
    configPath: previous.configPath,
    cniConfDir: previous.cniConfDir,
    network: previous.network,
    root: previous.root,
    options,
  });
}

async function launch(args: {
  dir: string;
  configPath: string;
  cniConfDir: string;
  network: TestNetwork | undefined;
  root: string;
  options: BerthdOptions;
}): Promise<Berthd> {
  const { dir, configPath, cniConfDir, network, root, options } = args;
  const socketPath = join(dir, 'state', 'berth.sock');
  const address = `unix://${socketPath}`;
  const proc = spawn(
    process.execPath,
    [BERTHD_MAIN, '--config', configPath, '--log-level', options.logLevel ?? 'debug', ...(options.extraArgs ?? [])],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    },
  );
  let stderrText = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    stderrText += chunk;
  });
  const stderr = (): string => stderrText;
  const clients: { close(): void }[] = [];
  const track = <T extends { close(): void }>(c: T): T => {
    clients.push(c);
    return c;
  };
  // kubelet's and crictl's receive limit (16 MiB), not grpc-js's 4 MiB default: ExecSync output is sized for it.
  const runtime = (): RuntimeServiceClient =>
    track(
      new RuntimeServiceClient(address, credentials.createInsecure(), {
        'grpc.max_receive_message_length': KUBELET_MAX_MESSAGE,
      }),
    );
  const closeClients = (): void => {
    for (const c of clients.splice(0)) c.close();
  };
  const cleanup = async (): Promise<void> => {
    closeClients();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await waitForExit(proc, 10_000);
    }
    // Pods a failed test left: their namespace files and /dev/shm are mounts; never rm -rf through them.
    for (const m of mountsBelow(dir, await readFile('/proc/self/mountinfo', 'utf8'))) {
      spawnSync('/usr/bin/umount', ['-l', m], { stdio: 'ignore' });
    }
    await network?.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(address, proc, stderr, options.startTimeoutMs ?? 20_000);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    network,
    dir,
    root,
    state: join(dir, 'state'),
    socketPath,
    address,
    configPath,
    cniConfDir,
    process: proc,
    stderr,
    runtime,
    image: () => track(new ImageServiceClient(address, credentials.createInsecure())),
    admin: () => track(new AdminClient(address, credentials.createInsecure())),
    stop: async () => {
      closeClients();
      proc.kill('SIGTERM');
      return waitForExit(proc, 15_000);
    },
    kill: async () => {
      closeClients();
      proc.kill('SIGKILL');
      await waitForExit(proc, 10_000);
    },
    cleanup,
  };
}

/** Whether the test process can do what integration tests need (root). Logged reason when not. */
export function integrationSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'integration tests need root';
  if (spawnSync('which', ['runc']).status !== 0 && spawnSync('test', ['-x', '/usr/sbin/runc']).status !== 0) {
    return 'runc is not installed (npm test installs it)';
  }
  return undefined;
}
