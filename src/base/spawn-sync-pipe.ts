/**
 * Starts a program that reports back on a sync pipe and then lives on by itself: conmon. The child gets
 * fd 3 as `_OCI_SYNCPIPE` (as CRI-O passes it), its own session (so berthd's signals, exit or crash never
 * reach it), and no stdio of berthd's. conmon forks its monitor and its parent exits at once; the monitor
 * writes one JSON line on the pipe when the container is created (or failed to be). Resolves with that line
 * and the parent's exit code and stderr; the monitor keeps running. On timeout the parent's process group is
 * killed; the monitor has a session of its own (conmon calls setsid), which the caller kills by its pid file.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { BerthError } from './errors.js';
import { describeArgv, killGroup } from './exec.js';

export interface SyncPipeRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly cwd?: string;
}

export interface SyncPipeResult {
  readonly exitCode: number | null;
  /** The first line written on the sync pipe, '' if the pipe closed without one. */
  readonly syncLine: string;
  readonly stderr: string;
}

export type SpawnWithSyncPipe = (request: SyncPipeRequest) => Promise<SyncPipeResult>;

const SYNC_FD = 3;
const MAX_STDERR = 64 * 1024;

export const spawnWithSyncPipe: SpawnWithSyncPipe = (request) =>
  new Promise<SyncPipeResult>((resolve, reject) => {
    const argv = describeArgv(request.file, request.args);
    const child = spawn(request.file, [...request.args], {
      env: { ...request.env, _OCI_SYNCPIPE: String(SYNC_FD) },
      cwd: request.cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    child.unref();
    let stderr = '';
    let syncBuffer = '';
    let syncLine: string | undefined;
    let exitCode: number | null | undefined;
    let isDone = false;
    const sync = child.stdio[SYNC_FD] as Readable;
    const finish = (err?: Error): void => {
      if (isDone) return;
      if (err === undefined && (syncLine === undefined || exitCode === undefined)) return;
      isDone = true;
      clearTimeout(timer);
      sync.destroy(); // the monitor keeps its end; ours must not keep berthd's event loop alive
      if (err !== undefined) reject(err);
      else resolve({ exitCode: exitCode ?? null, syncLine: syncLine ?? '', stderr });
    };
    const timer = setTimeout(() => {
      // detached: the parent leads its own group (never kill(0): that is berthd's own group).
      if (child.pid === undefined || !killGroup(child.pid, 'SIGKILL')) child.kill('SIGKILL');
      finish(new BerthError('DEADLINE_EXCEEDED', `${argv} did not report within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk;
    });
    sync.setEncoding('utf8');
    sync.on('data', (chunk: string) => {
      syncBuffer += chunk;
      const newline = syncBuffer.indexOf('\n');
      if (newline >= 0 && syncLine === undefined) {
        syncLine = syncBuffer.slice(0, newline);
        finish();
      }
    });
    sync.on('error', () => undefined);
    sync.on('end', () => {
      if (syncLine === undefined) {
        syncLine = syncBuffer.trim();
        finish();
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ENOENT' || err.code === 'EACCES' ? 'FAILED_PRECONDITION' : 'INTERNAL';
      finish(new BerthError(code, `cannot run ${argv}: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code) => {
      exitCode = code;
      // A parent that failed before forking never writes: don't wait for the pipe.
      if (code !== 0 && syncLine === undefined) syncLine = syncBuffer.trim();
      finish();
    });
  });

/**
 * Starts a long-lived helper (a pod's PID namespace init) in its own session with no stdio, and returns its pid
 * at once; berthd neither waits for it nor keeps it alive.
 */
export function spawnDetached(file: string, args: readonly string[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, [...args], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      detached: true,
      stdio: 'ignore',
    });
    child.once('error', (err) =>
      reject(new BerthError('FAILED_PRECONDITION', `cannot run ${describeArgv(file, args)}: ${err.message}`)),
    );
    child.once('spawn', () => {
      child.unref();
      resolve(child.pid!);
    });
  });
}
