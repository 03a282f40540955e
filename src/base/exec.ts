/**
 * Exec: the only way Berth runs a child process (runc, crun, conmon, CNI plugins, unshare, mount...).
 * Rules (STYLE 5.7): an argv array with an absolute path, explicit env, a finite timeout (SIGTERM, then
 * SIGKILL after a grace period, then DEADLINE_EXCEEDED naming the argv), capped output, and no throw on a
 * non-zero exit: the wrapper of each binary decides what an exit code means.
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
/** What a child gets when the caller gives no env: enough to find helpers, nothing inherited by accident. */
const DEFAULT_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
});

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

    const child = spawn(request.file, [...request.args], {
      env: { ...(request.env ?? DEFAULT_ENV) },
      cwd: request.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });

    const terminate = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
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

    const finish = (): void => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    };
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
