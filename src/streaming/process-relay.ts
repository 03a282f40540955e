/**
 * Relays a streaming exec: the client's stdin into the process, its output to the client, resizes to its
 * terminal, until it exits. If the client goes away first the process is killed: an exec nobody can see or
 * end must not outlive its session.
 */
import { Writable } from 'node:stream';
import type { InteractiveProcess } from '../base/interactive-process.js';
import type { ExecOutcome, StreamIo, TerminalSize } from './stream-backend.js';

/** How long a TTY exec waits for the client's first window size, so the process starts with the right one. */
export const FIRST_SIZE_WAIT_MS = 1000;

export async function relayProcess(
  start: (size: TerminalSize | undefined) => Promise<InteractiveProcess>,
  io: StreamIo,
  tty: boolean,
): Promise<ExecOutcome> {
  const current: { proc?: InteractiveProcess } = {};
  let latest: TerminalSize | undefined;
  let sized: (() => void) | undefined;
  io.onResize((size) => {
    latest = size;
    sized?.();
    current.proc?.resize(size.width, size.height);
  });
  if (tty && latest === undefined) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FIRST_SIZE_WAIT_MS);
      sized = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const started = await start(latest);
  current.proc = started;
  if (latest !== undefined) started.resize(latest.width, latest.height);
  return relayStarted(started, io, tty);
}

async function relayStarted(proc: InteractiveProcess, io: StreamIo, tty: boolean): Promise<ExecOutcome> {
  const onAbort = (): void => proc.kill('SIGKILL');
  io.signal.addEventListener('abort', onAbort);
  if (io.stdin !== undefined) {
    // A terminal has no end-of-input of its own: the session ends with the process instead.
    io.stdin.pipe(proc.stdin, { end: !tty });
  } else if (!tty) {
    proc.stdin.end();
  }
  proc.stdout.pipe(io.stdout ?? devNull(), { end: false });
  if (proc.stderr !== undefined) proc.stderr.pipe(io.stderr ?? devNull(), { end: false });
  try {
    const exit = await proc.exited;
    return { exitCode: exit.exitCode, signal: exit.signal };
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    io.stdin?.unpipe(proc.stdin);
  }
}

/** Output the client did not ask for is read and dropped, so the process never blocks on a full pipe. */
function devNull(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}
