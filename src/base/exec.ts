/**
 * Exec: the only way Berth runs a child process (runc, crun, conmon, CNI plugins, unshare, mount...).
 * Rules (STYLE 5.7): an argv array with an absolute path, explicit env, a finite timeout (SIGTERM, then
 * SIGKILL after a grace period, then DEADLINE_EXCEEDED naming the argv), capped output, and no throw on a
 * non-zero exit: the wrapper of each binary decides what an exit code means.
 *
 * The time limit holds even for a child that leaves children of its own (a wrapper script, a plugin that
 * execs helpers): each child leads its own process group and the signals go to the whole group, and once the
 * child has exited its output pipes get STDIO_DRAIN_MS to close; a grandchild still holding them open (which
 * would keep Node's 'close' from ever firing) is not waited for.
 */
import { spawn } from 'node:child_process';
import { BerthError } from './errors.js';

export interface ExecRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly stdin?: Buffer | string;
  /** Per stream; output past it is dropped and `truncated` is set. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  readonly cwd?: string;
}

export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The same output as bytes, for callers that must not decode it (ExecSync). */
  readonly stdoutBytes: Buffer;
  readonly stderrBytes: Buffer;
  readonly truncated: boolean;
  readonly durationMs: number;
}

export type Exec = (request: ExecRequest) => Promise<ExecResult>;

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const KILL_GRACE_MS = 2000;
/** After the child exits, how long its pipes may stay open (held by a process it left behind). */
const STDIO_DRAIN_MS = 2000;
/** What a child gets when the caller gives no env: enough to find helpers, nothing inherited by accident. */
const DEFAULT_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
});

/**
 * Signals the process group led by pid; false when there is none. Never kill(0) or kill(-1): berthd's own
 * group, or every process.
 */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The argv as one string for messages ("runc --root /run/berth/runc state abc"). */
export function describeArgv(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}

class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  isTruncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.isTruncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept.length < chunk.length) this.isTruncated = true;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}

/** The real Exec. Tests inject fakes with the same signature. */
export const exec: Exec = (request) =>
  new Promise<ExecResult>((resolve, reject) => {
    const startedMs = performance.now();
    const limit = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new OutputBuffer(limit);
    const stderr = new OutputBuffer(limit);
    const argv = describeArgv(request.file, request.args);
    let isTimedOut = false;
    let isAborted = false;

    // detached: the child leads a new process group (and session), so a timeout reaches what it started too.
    const child = spawn(request.file, [...request.args], {
      env: { ...(request.env ?? DEFAULT_ENV) },
      cwd: request.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });

    const signalGroup = (signal: NodeJS.Signals): void => {
      // The group is gone, or never was: the child may still be there.
      if (child.pid === undefined || !killGroup(child.pid, signal)) child.kill(signal);
    };
    const terminate = (): void => {
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const timer = setTimeout(() => {
      isTimedOut = true;
      terminate();
    }, request.timeoutMs);
    const onAbort = (): void => {
      isAborted = true;
      terminate();
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.on('error', () => undefined); // a child that exits without reading stdin is not our error
    child.stdin.end(request.stdin ?? '');

    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      clearTimeout(drainTimer);
      request.signal?.removeEventListener('abort', onAbort);
    };
    child.once('exit', () => {
      // 'close' waits for the pipes; a process the child left behind may hold them forever.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, STDIO_DRAIN_MS).unref();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish();
      if (err.code === 'ENOENT') {
        reject(new BerthError('FAILED_PRECONDITION', `${request.file} not found`, { cause: err }));
      } else if (err.code === 'EACCES') {
        reject(new BerthError('FAILED_PRECONDITION', `${request.file} is not executable`, { cause: err }));
      } else {
        reject(new BerthError('INTERNAL', `run ${argv}: ${err.message}`, { cause: err }));
      }
    });
    child.once('close', (exitCode, signal) => {
      finish();
      if (isTimedOut) {
        reject(new BerthError('DEADLINE_EXCEEDED', `${argv} did not finish within ${request.timeoutMs} ms`));
        return;
      }
      if (isAborted) {
        reject(new BerthError('CANCELLED', `${argv} was cancelled`));
        return;
      }
      resolve({
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutBytes: stdout.bytes(),
        stderrBytes: stderr.bytes(),
        truncated: stdout.isTruncated || stderr.isTruncated,
        durationMs: performance.now() - startedMs,
      });
    });
  });

/** The last lines of stderr for an error message (never the whole, possibly huge, output). */
export function stderrTail(stderr: string, maxChars = 2000): string {
  const trimmed = stderr.trim();
  return trimmed.length <= maxChars ? trimmed : `...${trimmed.slice(-maxChars)}`;
}
