/**
 * Interactive children: a process whose stdio stays connected to a client for as long as it runs (streaming
 * exec, port-forward dialers), unlike Exec's bounded, buffered runs. Two kinds: plain pipes, or a pseudo-terminal
 * (node-pty) when the client asked for a TTY, so `stty size` inside sees the client's window and resizes reach
 * the process as SIGWINCH.
 *
 * The caller owns the lifetime: nothing here times out, because an interactive shell may legitimately run for
 * hours; the stream server ends the process when the client goes away.
 */
import { spawn as spawnChild } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import { spawn as spawnPty } from 'node-pty';
import { BerthError } from './errors.js';

export interface InteractiveRequest {
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Allocate a pseudo-terminal: stdout carries both output streams, stderr is absent. */
  readonly tty: boolean;
  readonly cols?: number;
  readonly rows?: number;
}

export interface InteractiveExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface InteractiveProcess {
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Undefined with a TTY (the terminal merges both streams). */
  readonly stderr: Readable | undefined;
  /** Resolves after the process exited and its output was read to the end. */
  readonly exited: Promise<InteractiveExit>;
  resize(cols: number, rows: number): void;
  kill(signal?: NodeJS.Signals): void;
}

const DEFAULT_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
});
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 24;

export type SpawnInteractive = (request: InteractiveRequest) => InteractiveProcess;

export const spawnInteractive: SpawnInteractive = (request) =>
  request.tty ? spawnOnPty(request) : spawnOnPipes(request);

function spawnOnPipes(request: InteractiveRequest): InteractiveProcess {
  const child = spawnChild(request.file, [...request.args], {
    env: { ...(request.env ?? DEFAULT_ENV) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A client that disconnects mid-write must not take berthd down with EPIPE.
  child.stdin.on('error', () => undefined);
  const exited = new Promise<InteractiveExit>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new BerthError('UNKNOWN', `start ${request.file}: ${err.message}`, { cause: err })),
    );
    // 'close' (not 'exit') waits for stdout and stderr to be read to the end.
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal }));
  });
  return {
    pid: child.pid ?? -1,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    resize: () => undefined,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal);
    },
  };
}

function spawnOnPty(request: InteractiveRequest): InteractiveProcess {
  // The pty is a pipe with a window size here, not a terminal for a person: raw, so output bytes are relayed
  // unchanged (no \n -> \r\n on top of the container's own terminal) and input is neither echoed nor edited.
  // Set before the program starts, so not even its first bytes are cooked.
  const term = spawnPty('/bin/sh', ['-c', 'stty raw -echo && exec "$0" "$@"', request.file, ...request.args], {
    name: 'xterm',
    cols: request.cols ?? DEFAULT_COLS,
    rows: request.rows ?? DEFAULT_ROWS,
    env: { ...(request.env ?? DEFAULT_ENV) },
    // Bytes, not strings: output is relayed as it is and may split a UTF-8 sequence.
    encoding: null,
  });
  const stdout = new PassThrough();
  term.onData((data: string | Buffer) => stdout.write(typeof data === 'string' ? Buffer.from(data) : data));
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        term.write(chunk);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
  const exited = new Promise<InteractiveExit>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      // node-pty reports the exit before the last output may have been delivered: let it drain first.
      setImmediate(() => {
        stdout.end();
        resolve({ exitCode: signal ? null : exitCode, signal: signal ? String(signal) : null });
      });
    });
  });
  return {
    pid: term.pid,
    stdin,
    stdout,
    stderr: undefined,
    exited,
    resize: (cols, rows) => {
      if (cols > 0 && rows > 0) term.resize(cols, rows);
    },
    kill: (signal = 'SIGKILL') => {
      term.kill(signal);
    },
  };
}
