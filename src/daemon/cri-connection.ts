/**
 * One client connection of the CRI socket, handed to grpc-js: as the native socket when its first request's
 * :authority is valid (kubelet, the berth CLI), or through AuthorityRewriter on a JS stream when it is not
 * (crictl/critest v1.26). AuthorityPeek says which, and why berthd sends the server preface itself.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ConnectionInjector } from '@grpc/grpc-js';
import type { Logger } from '../base/logger.js';
import { AuthorityPeek, EMPTY_SETTINGS_FRAME } from './authority-peek.js';
import type { PeekVerdict } from './authority-peek.js';
import { AuthorityRewriter } from './authority-rewriter.js';

/** How a connection was handed to grpc-js. */
export type ConnectionRoute = 'native' | 'rewritten';

/** Accepts the socket's connections; close() ends those still being read (grpc-js does not know them yet). */
export class CriConnections {
  private readonly peeking = new Set<Socket>();

  constructor(
    private readonly injector: ConnectionInjector,
    private readonly log: Logger,
    private readonly onRoute?: (route: ConnectionRoute) => void,
  ) {}

  accept(socket: Socket): void {
    const peek = new AuthorityPeek();
    const stopPeeking = (): void => {
      this.peeking.delete(socket);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', stopPeeking);
    };
    const onError = (err: Error): void => {
      this.log.debug({ err }, 'client connection closed before its first request');
    };
    const onData = (chunk: Buffer): void => {
      let verdict: PeekVerdict | undefined;
      try {
        verdict = peek.push(chunk);
      } catch (err) {
        this.log.debug({ err }, 'client connection closed on a malformed HTTP/2 start');
        stopPeeking();
        socket.destroy();
        return;
      }
      if (verdict === undefined) return;
      stopPeeking();
      socket.pause();
      this.onRoute?.(verdict.needsRewrite ? 'rewritten' : 'native');
      if (verdict.needsRewrite) {
        injectRewritten(socket, verdict.bytes, this.injector, this.log);
      } else {
        // Given back to the socket's buffer: the HTTP/2 session reads it before anything nghttp2 reads itself.
        socket.unshift(verdict.bytes);
        this.injector.injectConnection(socket);
      }
    };
    this.peeking.add(socket);
    socket.on('error', onError);
    socket.on('close', stopPeeking);
    socket.on('data', onData);
    socket.write(EMPTY_SETTINGS_FRAME);
  }

  /** Ends the connections that have sent no request yet. */
  close(): void {
    for (const socket of this.peeking) socket.destroy();
    this.peeking.clear();
  }
}

function injectRewritten(socket: Socket, start: Buffer, injector: ConnectionInjector, log: Logger): void {
  const rewriter = new AuthorityRewriter();
  socket.on('error', (err) => rewriter.destroy(err));
  rewriter.on('error', (err) => {
    log.debug({ err }, 'client connection closed on a malformed HTTP/2 stream');
    socket.destroy();
  });
  rewriter.write(start);
  socket.pipe(rewriter);
  const connection = Duplex.from({ readable: rewriter, writable: socket });
  socket.on('close', () => connection.destroy());
  injector.injectConnection(connection);
}
