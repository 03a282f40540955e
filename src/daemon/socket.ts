/**
 * The gRPC unix socket: a stale file left by a crashed berthd is replaced; a socket some live process
 * still accepts on is never taken over (two daemons on one socket would split kubelet's calls).
 */
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { BerthError } from '../base/errors.js';

function isAccepting(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (result: boolean): void => {
      sock.destroy();
      resolve(result);
    };
    sock.setTimeout(timeoutMs, () => done(true)); // connected-but-silent still means someone owns it
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) {
    throw new BerthError('FAILED_PRECONDITION', `${path} exists and is not a socket; refusing to replace it`);
  }
  if (await isAccepting(path, 1000)) {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `socket ${path} is in use by another process (is another berthd running?); refusing to start`,
    );
  }
  await unlink(path);
}
