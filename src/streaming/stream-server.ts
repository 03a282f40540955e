/**
 * The stream server (kubelet's "streaming server" for a CRI runtime): Exec, Attach and PortForward answer with
 * a URL here; the client connects and upgrades the connection to SPDY/3.1 (kubelet's proxy, crictl v1.26) or
 * WebSocket (newer clients, the berth CLI), and the session runs until the process or the connections end.
 *
 *   /exec/<token>  /attach/<token>  /portforward/<token>
 *
 * A token is single-use and short-lived (StreamTokens); an unknown, reused or expired one gets 404, as does a
 * token used on the wrong path. The protocol is the first the client offers that we speak; none: 403 with the
 * versions we accept (X-Accepted-Stream-Protocol-Versions), as kubelet answers.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { BerthError, messageOf } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { PORT_FORWARD_PROTOCOL, SPDY_COMMAND_PROTOCOLS } from './remote-command.js';
import { serveSpdyCommand } from './spdy-command.js';
import { serveSpdyPortForward } from './spdy-port-forward.js';
import type { StreamBackend, StreamRequest } from './stream-backend.js';
import { StreamTokens } from './stream-tokens.js';
import type { TlsMaterial } from './tls-material.js';
import { WS_COMMAND_PROTOCOLS, WS_PORT_FORWARD_PROTOCOLS } from './ws-channels.js';
import { serveWsCommand } from './ws-command.js';
import { serveWsPortForward } from './ws-port-forward.js';
import { SpdySession } from './spdy/index.js';

export interface StreamServerOptions {
  readonly address: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Serve HTTPS with this pair. */
  readonly tls?: TlsMaterial;
  readonly backend: StreamBackend;
  readonly log: Logger;
}

const PATH = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,64})$/;
const KIND_OF_PATH = { exec: 'exec', attach: 'attach', portforward: 'portforward' } as const;

export class StreamServer {
  private server: Server | undefined;
  private readonly tokens = new StreamTokens<StreamRequest>();
  private readonly sockets = new Set<Socket | Duplex>();
  /** One per protocol family: ws picks the subprotocol, the client's first one in the family. */
  private readonly wsCommand = webSocketServer(WS_COMMAND_PROTOCOLS);
  private readonly wsPortForward = webSocketServer(WS_PORT_FORWARD_PROTOCOLS);
  private baseUrl = '';

  constructor(private readonly opts: StreamServerOptions) {}

  async start(): Promise<void> {
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onPlainRequest(req, res);
    const server = this.opts.tls
      ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, onRequest)
      : createHttpServer(onRequest);
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.address, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new BerthError(
        'FAILED_PRECONDITION',
        `stream server: listen on ${this.opts.address}:${this.opts.port}: ${messageOf(err)}`,
      );
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.opts.address.includes(':') ? `[${this.opts.address}]` : this.opts.address;
    this.baseUrl = `${this.opts.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /** The URL a client uses for req, valid once, for a minute. */
  urlFor(req: StreamRequest): string {
    if (this.baseUrl === '') throw new BerthError('UNAVAILABLE', 'the stream server is not running');
    return `${this.baseUrl}/${req.kind}/${this.tokens.issue(req)}`;
  }

  get address(): string {
    return this.baseUrl;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.wsCommand.close();
    this.wsPortForward.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const status = PATH.test(new URL(req.url ?? '/', 'http://x').pathname) ? 400 : 404;
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(status === 400 ? 'stream requests must upgrade to SPDY/3.1 or websocket\n' : 'not found\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    const match = PATH.exec(url.pathname);
    const stored = match === null ? undefined : this.tokens.take(match[2] ?? '');
    if (match === null || stored === undefined || stored.kind !== KIND_OF_PATH[match[1] as keyof typeof KIND_OF_PATH]) {
      reject(socket, 404, 'Not Found', {}, 'stream token not found, used or expired\n');
      return;
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') this.upgradeWebSocket(req, socket, head, stored, url);
    else if (upgrade === 'spdy/3.1') this.upgradeSpdy(req, socket, head, stored);
    else reject(socket, 400, 'Bad Request', {}, `unsupported upgrade "${req.headers.upgrade ?? ''}"\n`);
  }

  private upgradeSpdy(req: IncomingMessage, socket: Socket, head: Buffer, stored: StreamRequest): void {
    const offered = (req.headersDistinct['x-stream-protocol-version'] ?? []).flatMap((v) =>
      v.split(',').map((p) => p.trim()),
    );
    const supported = stored.kind === 'portforward' ? [PORT_FORWARD_PROTOCOL] : SPDY_COMMAND_PROTOCOLS;
    // A client that names no version speaks the oldest one (kubelet's rule).
    const protocol = offered.length === 0 ? supported.at(-1) : offered.find((p) => supported.includes(p));
    if (protocol === undefined) {
      reject(
        socket,
        403,
        'Forbidden',
        { 'X-Accepted-Stream-Protocol-Versions': supported.join(', ') },
        `none of the offered protocols (${offered.join(', ')}) is supported\n`,
      );
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    const session = new SpdySession(socket, { isServer: true, head });
    session.on('error', (err: Error) => this.opts.log.debug({ err }, 'stream connection failed'));
    const served =
      stored.kind === 'portforward'
        ? serveSpdyPortForward(this.opts.backend, stored, session)
        : serveSpdyCommand(this.opts.backend, stored, session, protocol);
    served.catch((err: unknown) => {
      this.opts.log.debug({ err }, 'stream session ended with an error');
      session.destroy();
    });
  }

  private upgradeWebSocket(req: IncomingMessage, socket: Socket, head: Buffer, stored: StreamRequest, url: URL): void {
    const supported = stored.kind === 'portforward' ? WS_PORT_FORWARD_PROTOCOLS : WS_COMMAND_PROTOCOLS;
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    if (offered.length > 0 && !offered.some((p) => supported.includes(p))) {
      reject(
        socket,
        403,
        'Forbidden',
        { 'X-Accepted-Stream-Protocol-Versions': supported.join(', ') },
        'no supported websocket subprotocol\n',
      );
      return;
    }
    let ports: number[] = [];
    if (stored.kind === 'portforward') {
      ports = url.searchParams.getAll('port').map(Number);
      if (ports.length === 0) ports = [...stored.ports];
      const bad = ports.find(
        (p) => !Number.isInteger(p) || p < 1 || p > 65535 || (stored.ports.length > 0 && !stored.ports.includes(p)),
      );
      if (ports.length === 0 || bad !== undefined) {
        reject(socket, 400, 'Bad Request', {}, `invalid or unrequested port ${String(bad ?? '(none)')}\n`);
        return;
      }
    }
    const wss = stored.kind === 'portforward' ? this.wsPortForward : this.wsCommand;
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const served =
        stored.kind === 'portforward'
          ? serveWsPortForward(this.opts.backend, stored, ports, ws)
          : serveWsCommand(this.opts.backend, stored, ws);
      served.catch((err: unknown) => {
        this.opts.log.debug({ err }, 'websocket stream session ended with an error');
        ws.terminate();
      });
    });
  }
}

function webSocketServer(supported: readonly string[]): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (protocols: Set<string>) => [...protocols].find((p) => supported.includes(p)) ?? false,
  });
}

function reject(
  socket: Duplex,
  status: number,
  reason: string,
  headers: Readonly<Record<string, string>>,
  body: string,
): void {
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Content-Type: text/plain',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
