/**
 * exec and attach over SPDY/3.1, as kubelet serves them: the client opens one stream per role, named by the
 * `streamtype` header (error, stdin, stdout, stderr, resize); the session starts once every stream the request
 * implies has arrived, or the connection is dropped after kubelet's stream creation timeout.
 */
import { BerthError } from '../base/errors.js';
import { hasResize, serveCommand } from './remote-command.js';
import type { AttachStreamRequest, ExecStreamRequest, StreamBackend } from './stream-backend.js';
import type { SpdySession, SpdyStream } from './spdy/index.js';

export const STREAM_CREATION_TIMEOUT_MS = 30_000;

type Role = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

export function expectedRoles(req: ExecStreamRequest | AttachStreamRequest, protocol: string): ReadonlySet<Role> {
  const roles = new Set<Role>(['error']);
  if (req.stdin) roles.add('stdin');
  if (req.stdout) roles.add('stdout');
  if (req.stderr && !req.tty) roles.add('stderr');
  if (req.tty && hasResize(protocol)) roles.add('resize');
  return roles;
}

export async function serveSpdyCommand(
  backend: StreamBackend,
  req: ExecStreamRequest | AttachStreamRequest,
  session: SpdySession,
  protocol: string,
): Promise<void> {
  const streams = await collectStreams(session, expectedRoles(req, protocol));
  const gone = new AbortController();
  session.once('close', () => gone.abort());
  const error = streams.get('error');
  await serveCommand(backend, req, {
    protocol,
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    resize: streams.get('resize'),
    signal: gone.signal,
    finish: async (status) => {
      if (error !== undefined) {
        await new Promise<void>((resolve) => {
          error.once('error', () => resolve());
          error.end(status, () => resolve());
        });
      }
      session.goaway();
    },
  });
}

function collectStreams(session: SpdySession, expected: ReadonlySet<Role>): Promise<Map<Role, SpdyStream>> {
  return new Promise((resolve, reject) => {
    const found = new Map<Role, SpdyStream>();
    const timer = setTimeout(() => {
      cleanup();
      session.destroy();
      reject(new BerthError('DEADLINE_EXCEEDED', `timed out waiting for client streams (${[...expected].join(', ')})`));
    }, STREAM_CREATION_TIMEOUT_MS);
    const onStream = (stream: SpdyStream): void => {
      const role = stream.headers.streamtype as Role | undefined;
      if (role === undefined || !expected.has(role) || found.has(role)) {
        stream.reset();
        return;
      }
      // Output-only streams: the client's half is closed or unused; don't let unread data pile up.
      if (role !== 'stdin' && role !== 'resize') stream.resume();
      found.set(role, stream);
      if (found.size === expected.size) {
        cleanup();
        resolve(found);
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new BerthError('CANCELLED', 'client closed the connection before opening its streams'));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
    };
    session.on('stream', onStream);
    session.once('close', onClose);
  });
}
