/**
 * A throwaway local OCI registry for integration tests: Debian's `docker-registry` (distribution 2.8)
 * listening on 127.0.0.1 only, on a free port, with filesystem storage, no auth and deletes enabled.
 * startRegistry() waits until `GET /v2/` answers 200; stop() kills it and removes its temp dir.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface Registry {
  /** "127.0.0.1:PORT", the host part of image references. */
  readonly host: string;
  /** "http://127.0.0.1:PORT". */
  readonly url: string;
  /** Directory holding the config, the log and the storage root. */
  readonly dir: string;
  /** The registry's combined stdout/stderr. */
  readonly logPath: string;
  /** Last lines of the log, for assertion messages. */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, SIGKILL after a grace, wait for exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /**
   * Use this directory (created if missing) instead of a fresh temp dir, e.g. to restart a registry on
   * the same storage. stop() leaves a caller-provided dir in place.
   */
  readonly dir?: string;
  readonly startTimeoutMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const BIND_ATTEMPTS = 4;
const POLL_INTERVAL_MS = 50;
const BIND_ERROR = /address already in use/i;

/** Why the integration tests that need a registry cannot run here, or undefined when they can. */
export async function registrySkipReason(): Promise<string | undefined> {
  try {
    await access(REGISTRY_BIN, constants.X_OK);
    return undefined;
  } catch {
    return `${REGISTRY_BIN} is missing (package docker-registry; scripts/setup.sh installs it)`;
  }
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const isOwnDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'berth-registry-')));
  await mkdir(join(dir, 'storage'), { recursive: true });
  try {
    return await startOnFreePort(dir, isOwnDir, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (err) {
    if (isOwnDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Picking a port and binding it later races with other processes: retry a few times on EADDRINUSE. */
async function startOnFreePort(dir: string, isOwnDir: boolean, timeoutMs: number): Promise<Registry> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = await startOnce(dir, port, timeoutMs);
    if (started.kind === 'ready') return makeHandle(dir, port, started.child, isOwnDir);
    if (started.kind === 'bind-failed' && attempt < BIND_ATTEMPTS) continue;
    throw new Error(
      `docker-registry did not start on 127.0.0.1:${port}: ${started.reason}\n${await tail(logPathOf(dir))}`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

function logPathOf(dir: string): string {
  return join(dir, 'registry.log');
}

/** distribution 2.8 config (docs/configuration.md); JSON-compatible keys only. */
function configYaml(dir: string, port: number): string {
  return stringify({
    version: '0.1',
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'storage') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    health: { storagedriver: { enabled: false } },
  });
}

type StartResult =
  | { readonly kind: 'ready'; readonly child: ChildProcess }
  | { readonly kind: 'bind-failed'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

async function startOnce(dir: string, port: number, timeoutMs: number): Promise<StartResult> {
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, configYaml(dir, port));
  const log = await open(logPathOf(dir), 'a');
  const logOffset = (await log.stat()).size;
  // A clean env: distribution lets REGISTRY_* variables override any config key.
  const child = spawn(REGISTRY_BIN, ['serve', configPath], {
    cwd: dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  const waited = await waitReady(`http://127.0.0.1:${port}/v2/`, child, timeoutMs);
  if (waited === undefined) return { kind: 'ready', child };
  await killAndWait(child);
  // Only this attempt's output: the log is appended to across attempts and restarts.
  const isBindError = BIND_ERROR.test((await readFile(logPathOf(dir))).subarray(logOffset).toString('utf8'));
  return { kind: isBindError ? 'bind-failed' : 'failed', reason: waited };
}

/** Polls GET /v2/ until 200; answers undefined when ready, else why not. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<string | undefined> {
  let spawnFailure: string | undefined;
  child.on('error', (err) => (spawnFailure ??= err.message));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnFailure !== undefined) return `spawn failed: ${spawnFailure}`;
    if (child.exitCode !== null || child.signalCode !== null) {
      return `exited with ${child.exitCode ?? child.signalCode} during startup`;
    }
    if (await answers200(url)) return undefined;
    await sleep(POLL_INTERVAL_MS);
  }
  return `GET ${url} did not answer 200 within ${timeoutMs} ms`;
}

async function answers200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child) || child.pid === undefined) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  child.kill('SIGTERM');
  if (await waitExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitExit(child, STOP_GRACE_MS);
}

async function tail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no registry log)';
  }
}

function makeHandle(dir: string, port: number, child: ChildProcess, isOwnDir: boolean): Registry {
  // If the test process exits without stop(), do not leave an orphan registry behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await killAndWait(child);
    process.removeListener('exit', killOnExit);
    if (isOwnDir) await rm(dir, { recursive: true, force: true });
  };
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    dir,
    logPath: logPathOf(dir),
    logTail: (lines) => tail(logPathOf(dir), lines),
    stop: () => (stopping ??= stop()),
  };
}
