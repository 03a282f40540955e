/**
 * A throwaway local OCI registry for integration tests: Debian's `docker-registry` (distribution 2.8)
 * listening on 127.0.0.1 only, on a free port, with filesystem storage and deletes enabled; by default
 * plain HTTP and no auth. Options add TLS (a self-signed certificate for 127.0.0.1 made with openssl) and
 * htpasswd Basic auth (bcrypt, from `htpasswd -B` or Python's crypt). startRegistry() waits until
 * `GET /v2/` answers (200, or 401 with auth); stop() kills it and removes its temp dir.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const OPENSSL_BIN = '/usr/bin/openssl';
const HTPASSWD_BINS = Object.freeze(['/usr/bin/htpasswd', '/usr/sbin/htpasswd']);
const PYTHON_BIN = '/usr/bin/python3';

export interface Registry {
  /** "127.0.0.1:PORT", the host part of image references. */
  readonly host: string;
  /** "http://127.0.0.1:PORT", or https:// with the tls option. */
  readonly url: string;
  /** With the tls option: the self-signed certificate (PEM) the registry serves, to trust it explicitly. */
  readonly certificatePem: string | undefined;
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
  /** Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (needs openssl: tlsSkipReason). */
  readonly tls?: boolean;
  /** Require htpasswd Basic auth for this one user (needs a bcrypt tool: htpasswdSkipReason). */
  readonly htpasswd?: { readonly username: string; readonly password: string };
}

/** Files and settings a start derives from the options; reused across bind retries. */
interface ServeOptions {
  readonly tls: { readonly certificate: string; readonly key: string; readonly pem: string } | undefined;
  readonly htpasswdPath: string | undefined;
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

/** Why a registry with the tls option cannot start here, or undefined when it can. */
export async function tlsSkipReason(): Promise<string | undefined> {
  return (await isExecutable(OPENSSL_BIN)) ? registrySkipReason() : `${OPENSSL_BIN} is missing (package openssl)`;
}

/** Why a registry with the htpasswd option cannot start here (no bcrypt tool), or undefined when it can. */
export async function htpasswdSkipReason(): Promise<string | undefined> {
  const registry = await registrySkipReason();
  if (registry !== undefined) return registry;
  try {
    await bcryptHash('probe');
    return undefined;
  } catch (err) {
    return `no bcrypt tool for htpasswd (apache2-utils htpasswd, or python3 crypt with bcrypt): ${(err as Error).message}`;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * A bcrypt hash (the only htpasswd format distribution accepts), from apache2-utils or Python's crypt(3).
 * Cost 4, the least bcrypt allows: the registry checks it on every request, and these are test passwords.
 */
async function bcryptHash(password: string): Promise<string> {
  for (const bin of HTPASSWD_BINS) {
    if (!(await isExecutable(bin))) continue;
    const { stdout } = await execFileAsync(bin, ['-nbB', '-C', '4', 'user', password], { timeout: 30_000 });
    const hash = stdout.trim().split(':')[1];
    if (hash?.startsWith('$2') === true) return hash;
  }
  if (await isExecutable(PYTHON_BIN)) {
    const script = 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))';
    const { stdout } = await execFileAsync(PYTHON_BIN, ['-W', 'ignore', '-c', script, password], { timeout: 30_000 });
    const hash = stdout.trim();
    if (hash.startsWith('$2')) return hash;
    throw new Error(`python3 crypt made no bcrypt hash (got "${hash.slice(0, 10)}")`);
  }
  throw new Error('neither htpasswd nor python3 is installed');
}

/** A self-signed EC certificate for 127.0.0.1 (and localhost), valid for a day. */
async function makeCertificate(dir: string): Promise<NonNullable<ServeOptions['tls']>> {
  const certificate = join(dir, 'tls', 'cert.pem');
  const key = join(dir, 'tls', 'key.pem');
  await mkdir(join(dir, 'tls'), { recursive: true });
  await execFileAsync(
    OPENSSL_BIN,
    [
      ...['req', '-x509', '-nodes', '-days', '1', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ...['-keyout', key, '-out', certificate, '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    ],
    { timeout: 30_000 },
  );
  return { certificate, key, pem: await readFile(certificate, 'utf8') };
}

async function serveOptions(dir: string, opts: RegistryOptions): Promise<ServeOptions> {
  let htpasswdPath: string | undefined;
  if (opts.htpasswd !== undefined) {
    htpasswdPath = join(dir, 'htpasswd');
    await writeFile(htpasswdPath, `${opts.htpasswd.username}:${await bcryptHash(opts.htpasswd.password)}\n`);
  }
  return { tls: opts.tls === true ? await makeCertificate(dir) : undefined, htpasswdPath };
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const isOwnDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'berth-registry-')));
  await mkdir(join(dir, 'storage'), { recursive: true });
  try {
    const serve = await serveOptions(dir, opts);
    return await startOnFreePort(dir, isOwnDir, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, serve);
  } catch (err) {
    if (isOwnDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Picking a port and binding it later races with other processes: retry a few times on EADDRINUSE. */
async function startOnFreePort(
  dir: string,
  isOwnDir: boolean,
  timeoutMs: number,
  serve: ServeOptions,
): Promise<Registry> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = await startOnce(dir, port, timeoutMs, serve);
    if (started.kind === 'ready') return makeHandle(dir, port, started.child, isOwnDir, serve);
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
function configYaml(dir: string, port: number, serve: ServeOptions): string {
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
      ...(serve.tls !== undefined && { tls: { certificate: serve.tls.certificate, key: serve.tls.key } }),
    },
    ...(serve.htpasswdPath !== undefined && { auth: { htpasswd: { realm: 'berth-test', path: serve.htpasswdPath } } }),
    health: { storagedriver: { enabled: false } },
  });
}

type StartResult =
  | { readonly kind: 'ready'; readonly child: ChildProcess }
  | { readonly kind: 'bind-failed'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

async function startOnce(dir: string, port: number, timeoutMs: number, serve: ServeOptions): Promise<StartResult> {
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, configYaml(dir, port, serve));
  const log = await open(logPathOf(dir), 'a');
  const logOffset = (await log.stat()).size;
  // A clean env: distribution lets REGISTRY_* variables override any config key.
  const child = spawn(REGISTRY_BIN, ['serve', configPath], {
    cwd: dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  const scheme = serve.tls === undefined ? 'http' : 'https';
  const waited = await waitReady(`${scheme}://127.0.0.1:${port}/v2/`, child, timeoutMs, serve.tls?.pem);
  if (waited === undefined) return { kind: 'ready', child };
  await killAndWait(child);
  // Only this attempt's output: the log is appended to across attempts and restarts.
  const isBindError = BIND_ERROR.test((await readFile(logPathOf(dir))).subarray(logOffset).toString('utf8'));
  return { kind: isBindError ? 'bind-failed' : 'failed', reason: waited };
}

/** Polls GET /v2/ until 200 (or 401: auth is on); answers undefined when ready, else why not. */
async function waitReady(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  ca: string | undefined,
): Promise<string | undefined> {
  let spawnFailure: string | undefined;
  child.on('error', (err) => (spawnFailure ??= err.message));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnFailure !== undefined) return `spawn failed: ${spawnFailure}`;
    if (child.exitCode !== null || child.signalCode !== null) {
      return `exited with ${child.exitCode ?? child.signalCode} during startup`;
    }
    if (await answers(url, ca)) return undefined;
    await sleep(POLL_INTERVAL_MS);
  }
  return `GET ${url} did not answer within ${timeoutMs} ms`;
}

/** node:http(s) rather than fetch: it can trust the test certificate (ca) without touching global state. */
function answers(url: string, ca: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const onResponse = (res: IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    };
    const req = url.startsWith('https:') ? httpsRequest(url, { ca }, onResponse) : httpRequest(url, onResponse);
    req.setTimeout(1_000, () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(false));
    req.end();
  });
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

function makeHandle(dir: string, port: number, child: ChildProcess, isOwnDir: boolean, serve: ServeOptions): Registry {
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
    url: `${serve.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    certificatePem: serve.tls?.pem,
    dir,
    logPath: logPathOf(dir),
    logTail: (lines) => tail(logPathOf(dir), lines),
    stop: () => (stopping ??= stop()),
  };
}
