/**
 * The CLI's side of the stream server: exec and attach over WebSocket with the v5 channel protocol (stdin can
 * be closed on its own with the close signal), and port-forward connections. WebSocket rather than SPDY because
 * it is what newer kubectl speaks, and the `ws` package is a maintained client; berthd serves both.
 *
 * Channels: 0 stdin, 1 stdout, 2 stderr, 3 error (the final metav1.Status), 4 resize, 255 close signal.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import { CliError } from './errors.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE_SIGNAL = 255;
const COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

export interface CommandStreams {
  readonly stdin: Readable | undefined;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Current size, and a way to hear about changes (TTY sessions). */
  readonly terminal?: {
    readonly size: () => TerminalSize | undefined;
    readonly onResize: (handler: () => void) => () => void;
  };
  /**
   * Called once the WebSocket is open. berthd connects to the container's monitor in the same turn as it
   * accepts the upgrade, so a created container started from here has no output the session misses.
   */
  readonly onOpen?: () => void;
  /** Ends the session from our side (the caller gave up, e.g. the container could not start). */
  readonly signal?: AbortSignal;
}

function wsUrl(url: string): string {
  return url.replace(/^http/, 'ws');
}

/** Runs an exec or attach session; resolves with the exit code the status carried (0 for success). */
export function runCommandSession(url: string, streams: CommandStreams): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    // The stream server's certificate is self-signed unless configured: it is reached through a URL the
    // authenticated gRPC socket handed out, as kubelet's proxy trusts it.
    const ws = new WebSocket(wsUrl(url), COMMAND_PROTOCOLS, { rejectUnauthorized: false });
    const status: Buffer[] = [];
    let pendingWrites = 0;
    const send = (channel: number, data: Buffer): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      pendingWrites++;
      ws.send(Buffer.concat([Buffer.of(channel), data]), () => {
        pendingWrites--;
        if (pendingWrites === 0) streams.stdin?.resume();
      });
      // Backpressure: stop reading stdin while frames pile up in the socket.
      if (pendingWrites > 16) streams.stdin?.pause();
    };
    let stopResize: (() => void) | undefined;
    const onAbort = (): void => ws.terminate();
    if (streams.signal?.aborted === true) onAbort();
    streams.signal?.addEventListener('abort', onAbort);
    ws.on('open', () => {
      const terminal = streams.terminal;
      if (terminal !== undefined) {
        const sendSize = (): void => {
          const size = terminal.size();
          if (size !== undefined) send(RESIZE, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height })));
        };
        sendSize();
        stopResize = terminal.onResize(sendSize);
      }
      if (streams.stdin !== undefined) {
        streams.stdin.on('data', (chunk: Buffer) => send(STDIN, chunk));
        streams.stdin.once('end', () => {
          if (ws.protocol.startsWith('v5.')) send(CLOSE_SIGNAL, Buffer.of(STDIN));
        });
      }
      streams.onOpen?.();
    });
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const payload = data.subarray(1);
      if (data[0] === STDOUT) streams.stdout.write(payload);
      else if (data[0] === STDERR) streams.stderr.write(payload);
      else if (data[0] === ERROR) status.push(payload);
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () =>
        reject(new CliError(`stream server refused the session (${res.statusCode ?? '?'}): ${body.trim()}`)),
      );
    });
    ws.on('error', (err) => reject(new CliError(`stream connection failed: ${err.message}`)));
    ws.on('close', () => {
      streams.signal?.removeEventListener('abort', onAbort);
      stopResize?.();
      streams.stdin?.pause();
      try {
        resolve(exitCodeOf(Buffer.concat(status)));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** The exit code in a v4/v5 status (metav1.Status JSON); an empty status means success. */
export function exitCodeOf(status: Buffer): number {
  if (status.length === 0) return 0;
  let parsed: {
    status?: string;
    reason?: string;
    message?: string;
    details?: { causes?: { reason?: string; message?: string }[] };
  };
  try {
    parsed = JSON.parse(status.toString('utf8')) as typeof parsed;
  } catch {
    throw new CliError(status.toString('utf8').trim());
  }
  if (parsed.status === 'Success') return 0;
  if (parsed.reason === 'NonZeroExitCode') {
    const cause = parsed.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new CliError(parsed.message ?? 'the session failed');
}

/**
 * One forwarded connection: a WebSocket to the port-forward URL for a single port, relayed to conn. The first
 * message on each channel is the port (two bytes); data is channel 0, errors channel 1.
 */
export function forwardConnection(url: string, port: number, conn: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const target = new URL(wsUrl(url));
    target.searchParams.append('port', String(port));
    const ws = new WebSocket(target, ['portforward.k8s.io'], { rejectUnauthorized: false });
    const seen = new Set<number>();
    ws.on('open', () => {
      conn.on('data', (chunk: Buffer) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.of(0), chunk]));
      });
      conn.resume();
    });
    conn.pause();
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      if (channel === undefined) return;
      let payload = data.subarray(1);
      if (!seen.has(channel)) {
        seen.add(channel);
        payload = payload.subarray(2); // each channel starts with the port number
      }
      if (payload.length === 0) return;
      if (channel === 0) conn.write(payload);
      else if (channel === 1 && payload.length > 0) process.stderr.write(`port-forward: ${payload.toString('utf8')}\n`);
    });
    const done = (): void => {
      conn.end();
      ws.close();
      resolve();
    };
    ws.on('close', done);
    ws.on('error', (err) => {
      process.stderr.write(`port-forward: ${err.message}\n`);
      done();
    });
    conn.on('close', () => ws.close());
    conn.on('error', () => ws.close());
  });
}
