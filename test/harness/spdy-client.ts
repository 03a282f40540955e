// A minimal SPDY/3.1 stream client for tests, speaking to berthd's stream server as Go's remotecommand and
// port-forward clients do (HTTP upgrade, X-Stream-Protocol-Version, one stream per role), over Berth's own
// SpdySession in client mode.
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { SpdySession } from '../../src/streaming/index.js';
import type { SpdyStream } from '../../src/streaming/index.js';

export interface UpgradeResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly session: SpdySession | undefined;
  readonly body: string;
}

/** POSTs an upgrade to url offering protocols; on 101 returns a client SpdySession. */
export async function spdyUpgrade(url: string, protocols: readonly string[]): Promise<UpgradeResult> {
  const u = new URL(url);
  const port = Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const socket: Socket = await new Promise((resolve, reject) => {
    const s =
      u.protocol === 'https:'
        ? connectTls({ host, port, rejectUnauthorized: false }, () => resolve(s))
        : connectTcp({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.write(
    [
      `POST ${u.pathname} HTTP/1.1`,
      `Host: ${u.host}`,
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  let buffered = Buffer.alloc(0);
  const headEnd = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        socket.pause();
        resolve(end);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => resolve(buffered.indexOf('\r\n\r\n')));
  });
  const lines = buffered.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(lines[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buffered.subarray(headEnd + 4);
  if (status !== 101) {
    socket.destroy();
    return { status, headers, session: undefined, body: rest.toString('utf8') };
  }
  const session = new SpdySession(socket, { isServer: false, head: rest });
  socket.resume();
  return { status, headers, session, body: '' };
}

export interface SpdyExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly status: string;
}

/** Runs an exec/attach session the way Go's v4 client does; stdin is written then closed (if given). */
export async function spdyCommand(
  url: string,
  opts: {
    readonly protocol?: string;
    readonly stdin?: Buffer;
    readonly stdout?: boolean;
    readonly stderr?: boolean;
    readonly tty?: boolean;
    readonly size?: { width: number; height: number };
    readonly onStdout?: (chunk: Buffer, stdin: SpdyStream | undefined) => void;
  } = {},
): Promise<SpdyExecResult> {
  const up = await spdyUpgrade(url, [opts.protocol ?? 'v4.channel.k8s.io']);
  if (up.session === undefined) throw new Error(`upgrade refused: ${up.status} ${up.body}`);
  const session = up.session;
  const open = (streamtype: string): SpdyStream => session.openStream({ streamtype });
  const error = open('error');
  const stdin = opts.stdin !== undefined ? open('stdin') : undefined;
  const stdout = opts.stdout === false ? undefined : open('stdout');
  const stderr = opts.stderr === false || opts.tty ? undefined : open('stderr');
  const resize = opts.tty ? open('resize') : undefined;
  if (resize !== undefined && opts.size !== undefined) {
    resize.write(JSON.stringify({ Width: opts.size.width, Height: opts.size.height }) + '\n');
  }
  const collect = (s: SpdyStream | undefined, onChunk?: (c: Buffer) => void): Promise<Buffer> =>
    s === undefined
      ? Promise.resolve(Buffer.alloc(0))
      : new Promise((resolve, reject) => {
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => {
            chunks.push(c);
            onChunk?.(c);
          });
          s.once('end', () => resolve(Buffer.concat(chunks)));
          s.once('error', reject);
        });
  const outP = collect(stdout, (c) => opts.onStdout?.(c, stdin));
  const errP = collect(stderr);
  const statusP = collect(error);
  if (stdin !== undefined && opts.stdin !== undefined) {
    if (opts.stdin.length > 0) stdin.write(opts.stdin);
    if (opts.onStdout === undefined) stdin.end();
  }
  const [out, err, status] = await Promise.all([outP, errP, statusP]);
  session.destroy();
  return { stdout: out, stderr: err, status: status.toString('utf8') };
}
