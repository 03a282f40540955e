/**
 * Attach to a running container's main process through its conmon: conmon keeps the container's stdio and
 * serves it on a SOCK_SEQPACKET unix socket (Node's net module cannot open those; node-unix-socket can). Each
 * message conmon sends starts with one byte naming the stream (2 stdout, 3 stderr; with a TTY everything is
 * stdout); bytes we send go to the container's stdin. Half-closing our side ends the container's stdin when it
 * was created with stdin_once. Detaching (the caller's signal) closes the socket and leaves the container
 * running.
 */
import { SeqpacketSocket } from 'node-unix-socket';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../base/errors.js';

export interface MonitorAttachIo {
  readonly stdin: Readable | undefined;
  readonly stdout: Writable | undefined;
  readonly stderr: Writable | undefined;
  /** Aborted when the client detached. */
  readonly signal: AbortSignal;
}

const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;

/** Resolves when the container's output ended (it exited) or the client detached. */
export function attachToMonitor(socketPath: string, io: MonitorAttachIo): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = new SeqpacketSocket();
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      io.signal.removeEventListener('abort', onAbort);
      io.stdin?.off('data', onInput);
      io.stdin?.off('end', onInputEnd);
      try {
        socket.destroy();
      } catch {
        // already closed
      }
      // Output written before the end must reach the client before the caller finishes the session.
      const pending = [io.stdout, io.stderr].filter((s): s is Writable => s !== undefined && s.writableNeedDrain);
      void Promise.all(pending.map((s) => new Promise((r) => s.once('drain', r)))).then(() =>
        err === undefined ? resolve() : reject(err),
      );
    };
    const onAbort = (): void => finish();
    // node-unix-socket throws (EBADF) on use after close: every late call is guarded, never reaches berthd's top.
    const guarded = (fn: () => void): void => {
      if (settled) return;
      try {
        fn();
      } catch (err) {
        finish(new BerthError('UNAVAILABLE', `attach socket: ${(err as Error).message}`));
      }
    };
    const onInput = (chunk: Buffer): void => guarded(() => socket.write(chunk));
    const onInputEnd = (): void => guarded(() => socket.end());
    io.signal.addEventListener('abort', onAbort);
    socket.on('error', (err: Error) =>
      finish(new BerthError('UNAVAILABLE', `attach to the container's monitor: ${err.message}`)),
    );
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('data', (message: Buffer) => {
      if (message.length < 1) return;
      const target = message[0] === STDERR_PIPE ? io.stderr : message[0] === STDOUT_PIPE ? io.stdout : undefined;
      target?.write(message.subarray(1));
    });
    try {
      socket.connect(socketPath, () => {
        if (io.stdin === undefined || settled) return;
        io.stdin.on('data', onInput);
        io.stdin.once('end', onInputEnd);
      });
    } catch (err) {
      finish(
        new BerthError(
          'FAILED_PRECONDITION',
          `the container's monitor has no attach socket: ${(err as Error).message}`,
        ),
      );
    }
  });
}
