/**
 * ContainerRuntime on conmon + an OCI runtime (runc or crun), as CRI-O runs containers: one conmon per
 * container holds its stdio, writes the CRI log file and the exit code, and outlives berthd. berthd talks to
 * the OCI runtime directly for start, kill, delete, state and exec.
 *
 *   <state>/runc/          the OCI runtime's --root (its own state)
 *   <state>/exits/<id>     exit code written by conmon (--exit-dir); the watcher reacts to new files
 *   <state>/s/<id>/attach  conmon's attach socket (--socket-dir-path kept short: sun_path is 108 bytes)
 *   <bundle>/ctl           conmon's control FIFO ("2 0 0" reopens the log, "1 H W" resizes the terminal)
 *   <bundle>/oom           written by conmon (--persist-dir) when the container was OOM-killed
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BerthError, errorCode } from '../base/errors.js';
import type { Exec, ExecResult } from '../base/exec.js';
import { describeArgv, killGroup, stderrTail } from '../base/exec.js';
import type { Logger } from '../base/logger.js';
import type { SpawnWithSyncPipe } from '../base/spawn-sync-pipe.js';
import type { InteractiveProcess, SpawnInteractive } from '../base/interactive-process.js';
import type {
  ContainerExit,
  ContainerRuntime,
  CreateRequest,
  ExecSyncResult,
  InteractiveExecRequest,
  RuntimeState,
} from './container-runtime.js';

export interface ConmonRuntimeOptions {
  readonly exec: Exec;
  readonly spawnWithSyncPipe: SpawnWithSyncPipe;
  readonly spawnInteractive: SpawnInteractive;
  readonly conmonPath: string;
  /** Runtime handler name -> OCI runtime binary. */
  readonly runtimes: Readonly<Record<string, string>>;
  readonly stateDir: string;
  /** Where each container's bundle lives (the container service's dir). */
  readonly bundleDirOf: (id: string) => string;
  readonly cgroupDriver: 'cgroupfs' | 'systemd';
  readonly log: Logger;
  readonly nowNs: () => bigint;
  /** Time limit of each OCI runtime command (state, start, kill, delete, update). Default 60 s. */
  readonly runtimeTimeoutMs?: number;
  /** Time limit for conmon to report a created container (it runs the runtime's create). Default 2 min. */
  readonly createTimeoutMs?: number;
}

export const DEFAULT_RUNTIME_TIMEOUT_MS = 60_000;
export const DEFAULT_CREATE_TIMEOUT_MS = 120_000;
const EXEC_OUTPUT_CAP = 16 * 1024 * 1024;
const RESCAN_MS = 2000;
const GONE = /does not exist|not found|no such file/i;
/** conmon names each exit file after its container id. */
const EXIT_FILE_NAME = /^[0-9a-f]{64}$/;
const NOT_RUNNING = /not running|process already finished|container not found|no such process/i;
/**
 * runc refusals caused by the request, not the node: a command that cannot run in the image, a limit the kernel
 * refuses. They answer INVALID_ARGUMENT, so a client sees its own mistake rather than a runtime failure.
 */
const CALLER_ERRORS: readonly RegExp[] = [
  /exec: .*: (executable file not found in \$PATH|permission denied|is a directory|no such file or directory|exec format error)/,
  /(cpuset\.(cpus|mems)|cpu\.cfs_(period|quota)_us|cpu\.max|memory\.(limit_in_bytes|max|memsw\.limit_in_bytes|swap\.max)|pids\.max).*(invalid argument|out of range|device or resource busy)/i,
  /cannot unmarshal/,
];

/** `<runtime> list` prints every container's bundle and rootfs paths: allow thousands of them. */
const LIST_OUTPUT_CAP = 16 * 1024 * 1024;
/**
 * `<runtime> list --format json`: runc prints an array of its containers' states, or `null` when it has none;
 * crun prints `[]`. Only id, status and pid are used; other fields (bundle, created, owner…) are let through.
 */
const RuntimeListSchema = z
  .array(z.object({ id: z.string(), status: z.string(), pid: z.number().int().nonnegative().optional() }))
  .nullable();

function runtimeStatusOf(status: string | undefined): RuntimeState['status'] {
  return status === 'created' || status === 'running' || status === 'stopped' ? status : 'unknown';
}

/** Container id -> state, from `<runtime> list --format json` output; throws on anything else. */
export function parseRuntimeList(stdout: string): Map<string, RuntimeState> {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (err) {
    throw new BerthError('UNKNOWN', `runtime list printed no JSON: ${stdout.slice(0, 200)}`, { cause: err });
  }
  const parsed = RuntimeListSchema.safeParse(json);
  if (!parsed.success) throw new BerthError('UNKNOWN', `runtime list: unexpected output: ${parsed.error.message}`);
  return new Map((parsed.data ?? []).map((c) => [c.id, { status: runtimeStatusOf(c.status), pid: c.pid ?? 0 }]));
}

/** The code for a failed create: the caller's error when runc says so. */
export function createFailureCode(message: string): 'INVALID_ARGUMENT' | 'UNKNOWN' {
  return CALLER_ERRORS.some((re) => re.test(message)) ? 'INVALID_ARGUMENT' : 'UNKNOWN';
}

export class ConmonRuntime implements ContainerRuntime {
  private readonly listeners: ((exit: ContainerExit) => void)[] = [];
  private readonly reported = new Set<string>();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ConmonRuntimeOptions) {}

  private get runtimeRoot(): string {
    return join(this.opts.stateDir, 'runc');
  }

  private get exitDir(): string {
    return join(this.opts.stateDir, 'exits');
  }

  private get socketDir(): string {
    return join(this.opts.stateDir, 's');
  }

  /** Creates the dirs and starts watching for exits. */
  async init(): Promise<void> {
    for (const dir of [this.runtimeRoot, this.exitDir, this.socketDir]) {
      await mkdir(dir, { recursive: true, mode: 0o711 });
    }
    // An event names the file it is about: check that one (a scan of the dir per event made every exit cost
    // O(containers); issue #7). Without a name, scan.
    this.watcher = watch(
      this.exitDir,
      (_event, name) => void (name === null ? this.scanExits() : this.checkExit(name)),
    );
    this.watcher.on('error', (err) => this.opts.log.warn({ err }, 'exit dir watch failed; rescanning on a timer'));
    // fs.watch can miss events (and none arrive for exits while berthd was down): rescan now and then.
    this.rescanTimer = setInterval(() => void this.scanExits(), RESCAN_MS);
    this.rescanTimer.unref();
  }

  close(): void {
    this.watcher?.close();
    if (this.rescanTimer !== undefined) clearInterval(this.rescanTimer);
  }

  onExit(listener: (exit: ContainerExit) => void): void {
    this.listeners.push(listener);
  }

  async create(req: CreateRequest): Promise<{ readonly pid: number }> {
    const binary = this.binaryOf(req.runtimeHandler);
    const bundle = req.bundleDir;
    await rm(join(this.exitDir, req.id), { force: true });
    this.reported.delete(req.id);
    const args = [
      '--api-version',
      '1',
      '-c',
      req.id,
      '-u',
      req.id,
      '-n',
      req.id,
      '-r',
      binary,
      '-b',
      bundle,
      '-p',
      join(bundle, 'pidfile'),
      '-P',
      join(bundle, 'conmon.pid'),
      '--exit-dir',
      this.exitDir,
      '--persist-dir',
      bundle,
      '--socket-dir-path',
      this.socketDir,
      '--log-level',
      'info',
      '--syslog',
      ...this.runtimeArgs().flatMap((a) => ['--runtime-arg', a]),
      // Without a pod log path the output still goes somewhere readable: the bundle's own log file.
      '-l',
      `k8s-file:${req.logPath === '' ? join(bundle, 'container.log') : req.logPath}`,
      ...(req.tty ? ['-t'] : []),
      ...(req.stdin ? ['-i'] : []),
      ...(req.stdin && !req.stdinOnce ? ['--leave-stdin-open'] : []),
    ];
    const timeoutMs = this.opts.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
    let res;
    try {
      res = await this.opts.spawnWithSyncPipe({
        file: this.opts.conmonPath,
        args,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        timeoutMs,
        cwd: bundle,
      });
    } catch (err) {
      if (errorCode(err) !== 'DEADLINE_EXCEEDED') throw err;
      // conmon's monitor (its own session) and the runtime it waits for are still there: end them.
      await this.killMonitor(bundle);
      throw new BerthError(
        'DEADLINE_EXCEEDED',
        `create container ${req.id}: ${this.opts.conmonPath} (runtime ${binary}) did not report within ${timeoutMs} ms`,
        { cause: err },
      );
    }
    let message = res.stderr.trim();
    let pid = -1;
    try {
      const sync = JSON.parse(res.syncLine) as { data?: number; pid?: number; message?: string };
      pid = sync.data ?? sync.pid ?? -1;
      if (sync.message) message = sync.message;
    } catch {
      // no sync line: conmon failed before creating; its stderr says why
    }
    if (pid <= 0) {
      const runtimeLog = await readFile(join(bundle, 'log.json'), 'utf8').catch(() => '');
      const why = message || stderrTail(runtimeLog) || `${this.opts.conmonPath} exited with ${res.exitCode}`;
      throw new BerthError(
        createFailureCode(`${why}\n${runtimeLog}`),
        `create container ${req.id} (runtime ${binary}): ${why}`,
      );
    }
    return { pid };
  }

  /** SIGKILL to the session of the conmon monitor whose pid file is in bundle (the runtime it runs included). */
  private async killMonitor(bundle: string): Promise<void> {
    const pid = Number((await readFile(join(bundle, 'conmon.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    if (!killGroup(pid, 'SIGKILL')) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.opts.log.warn({ pid, bundle }, 'killed a conmon that did not report in time');
  }

  async start(id: string, runtimeHandler: string): Promise<void> {
    await this.runtime(runtimeHandler, ['start', id], `start container ${id}`);
  }

  async kill(id: string, runtimeHandler: string, signal: string): Promise<void> {
    const res = await this.runRaw(runtimeHandler, ['kill', id, signal]);
    if (res.exitCode !== 0 && !NOT_RUNNING.test(res.stderr) && !GONE.test(res.stderr)) {
      throw new BerthError('UNKNOWN', `kill container ${id} with ${signal}: ${stderrTail(res.stderr).trim()}`);
    }
  }

  async delete(id: string, runtimeHandler: string): Promise<void> {
    const res = await this.runRaw(runtimeHandler, ['delete', '--force', id]);
    if (res.exitCode !== 0 && !GONE.test(res.stderr)) {
      throw new BerthError('UNKNOWN', `delete container ${id}: ${stderrTail(res.stderr).trim()}`);
    }
    await rm(join(this.exitDir, id), { force: true });
    await rm(join(this.socketDir, id), { recursive: true, force: true });
    this.reported.delete(id);
  }

  async state(id: string, runtimeHandler: string): Promise<RuntimeState> {
    const res = await this.runRaw(runtimeHandler, ['state', id]);
    if (res.exitCode !== 0) {
      if (GONE.test(res.stderr)) return { status: 'stopped', pid: 0 };
      throw new BerthError('UNKNOWN', `state of container ${id}: ${stderrTail(res.stderr).trim()}`);
    }
    const st = JSON.parse(res.stdout) as { status?: string; pid?: number };
    return { status: runtimeStatusOf(st.status), pid: st.pid ?? 0 };
  }

  async states(runtimeHandler: string): Promise<ReadonlyMap<string, RuntimeState>> {
    const res = await this.opts.exec({
      file: this.binaryOf(runtimeHandler),
      args: [...this.runtimeArgs(), 'list', '--format', 'json'],
      timeoutMs: this.opts.runtimeTimeoutMs ?? DEFAULT_RUNTIME_TIMEOUT_MS,
      maxOutputBytes: LIST_OUTPUT_CAP,
    });
    if (res.exitCode !== 0 || res.truncated) {
      const why = res.truncated ? `output over ${LIST_OUTPUT_CAP} bytes` : stderrTail(res.stderr).trim();
      throw new BerthError('UNKNOWN', `list containers of runtime handler "${runtimeHandler}": ${why}`);
    }
    return parseRuntimeList(res.stdout);
  }

  async execSync(
    id: string,
    runtimeHandler: string,
    cmd: readonly string[],
    timeoutMs: number,
  ): Promise<ExecSyncResult> {
    const pidFile = join(this.opts.bundleDirOf(id), `exec-${process.hrtime.bigint()}.pid`);
    const binary = this.binaryOf(runtimeHandler);
    const args = [...this.runtimeArgs(), 'exec', '--pid-file', pidFile, id, ...cmd];
    try {
      const res = await this.opts.exec({
        file: binary,
        args,
        timeoutMs: timeoutMs > 0 ? timeoutMs : 24 * 3600 * 1000,
        maxOutputBytes: EXEC_OUTPUT_CAP,
      });
      if (res.exitCode === null) {
        throw new BerthError('UNKNOWN', `exec in container ${id} ended by signal ${res.signal ?? '?'}`);
      }
      return { stdout: res.stdoutBytes, stderr: res.stderrBytes, exitCode: res.exitCode };
    } catch (err) {
      // The runtime was killed at the deadline; the process it started in the container must go too.
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (err instanceof BerthError && err.code === 'DEADLINE_EXCEEDED') {
        throw new BerthError('DEADLINE_EXCEEDED', `command timed out after ${timeoutMs / 1000}s in container ${id}`);
      }
      throw err;
    } finally {
      await rm(pidFile, { force: true });
    }
  }

  async update(id: string, runtimeHandler: string, resources: unknown): Promise<void> {
    const args = [...this.runtimeArgs(), 'update', '--resources', '-', id];
    const res = await this.opts.exec({
      file: this.binaryOf(runtimeHandler),
      args,
      stdin: JSON.stringify(resources),
      timeoutMs: this.opts.runtimeTimeoutMs ?? DEFAULT_RUNTIME_TIMEOUT_MS,
    });
    if (res.exitCode !== 0) {
      const code = GONE.test(res.stderr) ? 'NOT_FOUND' : 'UNKNOWN';
      throw new BerthError(code, `update resources of container ${id}: ${stderrTail(res.stderr).trim()}`);
    }
  }

  async execInteractive(
    id: string,
    runtimeHandler: string,
    cmd: readonly string[],
    req: InteractiveExecRequest,
  ): Promise<InteractiveProcess> {
    const bundle = this.opts.bundleDirOf(id);
    const tag = process.hrtime.bigint();
    const pidFile = join(bundle, `exec-${tag}.pid`);
    const files = [pidFile];
    let processArgs: string[] = [];
    if (req.tty) {
      // With a TTY the runtime runs on a pty of ours and makes the container's own terminal (-t), relaying
      // between the two and copying every resize of ours (SIGWINCH) to it. Its first size comes from the
      // process spec (consoleSize): set before the command starts, so `stty size` is right from the start.
      // No console socket to receive, which Node could not do.
      const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process?: object };
      const processFile = join(bundle, `exec-${tag}.json`);
      await writeFile(
        processFile,
        JSON.stringify({
          ...spec.process,
          args: cmd,
          terminal: true,
          ...(req.cols && req.rows ? { consoleSize: { height: req.rows, width: req.cols } } : {}),
        }),
        { mode: 0o600 },
      );
      files.push(processFile);
      processArgs = ['--process', processFile, '-t'];
    }
    const proc = this.opts.spawnInteractive({
      file: this.binaryOf(runtimeHandler),
      args: [...this.runtimeArgs(), 'exec', ...processArgs, '--pid-file', pidFile, id, ...(req.tty ? [] : cmd)],
      tty: req.tty,
      ...(req.cols === undefined ? {} : { cols: req.cols }),
      ...(req.rows === undefined ? {} : { rows: req.rows }),
    });
    void proc.exited.finally(() => Promise.all(files.map((f) => rm(f, { force: true })))).catch(() => undefined);
    return {
      ...proc,
      // Killing the runtime alone would leave the process it started running in the container.
      kill: (signal = 'SIGKILL') => {
        void readFile(pidFile, 'utf8')
          .then((text) => {
            const pid = Number(text.trim());
            if (Number.isInteger(pid) && pid > 0) process.kill(pid, signal);
          })
          .catch(() => undefined)
          .finally(() => proc.kill(signal));
      },
    };
  }

  attachSocketPath(id: string): string {
    return join(this.socketDir, id, 'attach');
  }

  async resizeTerminal(id: string, cols: number, rows: number): Promise<void> {
    await this.writeControl(id, `1 ${rows} ${cols}\n`, 'resize its terminal');
  }

  async reopenLog(id: string): Promise<void> {
    await this.writeControl(id, '2 0 0\n', 'reopen its log');
  }

  /** conmon's control FIFO: one line per command ("<kind> <a> <b>"). */
  private async writeControl(id: string, line: string, doing: string): Promise<void> {
    const ctl = join(this.opts.bundleDirOf(id), 'ctl');
    let fh;
    try {
      fh = await open(ctl, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new BerthError(
        'FAILED_PRECONDITION',
        `container ${id} has no conmon to ${doing} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
    try {
      await fh.write(line);
    } finally {
      await fh.close();
    }
  }

  async exitOf(id: string): Promise<ContainerExit | undefined> {
    const path = join(this.exitDir, id);
    const [text, st] = await Promise.all([
      readFile(path, 'utf8').catch(() => undefined),
      stat(path).catch(() => undefined),
    ]);
    if (text === undefined || st === undefined || text.trim() === '') return undefined;
    const exitCode = Number(text.trim());
    if (!Number.isInteger(exitCode)) return undefined;
    const oomKilled = await stat(join(this.opts.bundleDirOf(id), 'oom')).then(
      () => true,
      () => false,
    );
    return { id, exitCode, finishedAtNs: BigInt(Math.round(st.mtimeMs * 1e6)), oomKilled };
  }

  private async scanExits(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.exitDir);
    } catch {
      return;
    }
    for (const name of names) await this.checkExit(name);
  }

  /** Reports the exit in exit-dir file `name` once: not before conmon has written it, never twice. */
  private async checkExit(name: string): Promise<void> {
    if (this.reported.has(name) || !EXIT_FILE_NAME.test(name)) return;
    const exit = await this.exitOf(name);
    // Undefined: conmon is still writing it. Reported meanwhile: a scan and an event raced for it.
    if (exit === undefined || this.reported.has(name)) return;
    this.reported.add(name);
    for (const listener of this.listeners) listener(exit);
  }

  private binaryOf(handler: string): string {
    const binary = this.opts.runtimes[handler];
    if (binary === undefined)
      throw new BerthError('INVALID_ARGUMENT', `runtime handler "${handler}" is not configured`);
    return binary;
  }

  private runtimeArgs(): string[] {
    return [`--root=${this.runtimeRoot}`, ...(this.opts.cgroupDriver === 'systemd' ? ['--systemd-cgroup'] : [])];
  }

  private runRaw(handler: string, args: readonly string[]): Promise<ExecResult> {
    return this.opts.exec({
      file: this.binaryOf(handler),
      args: [...this.runtimeArgs(), ...args],
      timeoutMs: this.opts.runtimeTimeoutMs ?? DEFAULT_RUNTIME_TIMEOUT_MS,
    });
  }

  private async runtime(handler: string, args: readonly string[], doing: string): Promise<void> {
    const res = await this.runRaw(handler, args);
    if (res.exitCode !== 0) {
      const code = GONE.test(res.stderr) ? 'NOT_FOUND' : 'UNKNOWN';
      throw new BerthError(
        code,
        `${doing}: ${describeArgv(this.binaryOf(handler), args)}: ${stderrTail(res.stderr).trim()}`,
      );
    }
  }
}
