/**
 * One SPDY stream as a Node Duplex. Writes become DATA frames, end() becomes FLAG_FIN, the peer's FIN ends the
 * readable side, and RST_STREAM (either way) destroys the stream. The session owns the wire; the stream talks to
 * it through StreamHost.
 *
 *   open --local FIN--> half-closed (local) --peer FIN--> closed
 *   open --peer FIN---> half-closed (remote) --local FIN--> closed
 *   any  --RST_STREAM or destroy()--> closed (destroy() before both FINs sends RST_STREAM CANCEL)
 *
 * Events besides the Duplex ones: 'reply' (headers) when the peer answers a stream we opened (SYN_REPLY),
 * 'headers' (headers) for a HEADERS frame, 'reset' (status) just before a peer's RST_STREAM destroys the stream.
 * A reset destroys without an error (so nobody crashes on an unhandled 'error'); pipelines see it as a premature
 * close, and `resetStatus` tells why.
 */
import { Duplex } from 'node:stream';
import type { HeaderMap } from './header-block.js';
import { RstStatus } from './frames.js';

/** What a stream needs from its session (implemented by SpdySession). */
export interface StreamHost {
  /** Sends data as DATA frames (FIN on the last one when isFin); done() once the socket has taken them. */
  writeData(stream: SpdyStream, data: Buffer, isFin: boolean, done: (err?: Error | null) => void): void;
  /** Sends RST_STREAM(status) unless the session is gone; the stream destroys itself after. */
  sendReset(stream: SpdyStream, status: number): void;
  /** The reader drained the readable buffer below its high-water mark: the socket may flow again. */
  streamDrained(stream: SpdyStream): void;
  /** Both halves finished, or the stream was destroyed: the session forgets it (sending CANCEL if still open). */
  streamClosed(stream: SpdyStream): void;
}

export interface SpdyStreamInit {
  readonly id: number;
  readonly headers: HeaderMap;
  /** True for streams this side opened (SYN_STREAM sent), false for the peer's. */
  readonly isLocallyOpened: boolean;
  /** We may not send: opened with FIN by us, or opened unidirectional by the peer. */
  readonly isLocalFinished: boolean;
  /** The peer may not send: its SYN_STREAM carried FIN, or we opened the stream unidirectional. */
  readonly isRemoteFinished: boolean;
  readonly readableHighWaterMark: number;
  readonly writableHighWaterMark: number;
}

export class SpdyStream extends Duplex {
  readonly id: number;
  /** The headers of the SYN_STREAM that opened the stream, lower-case names. */
  readonly headers: HeaderMap;
  readonly isLocallyOpened: boolean;
  /** The SYN_REPLY headers, once the peer answered a stream this side opened. */
  replyHeaders: HeaderMap | null = null;
  /** The RST_STREAM status, when either side reset the stream. */
  resetStatus: number | null = null;
  private localFinished: boolean;
  private remoteFinished: boolean;
  private isForgotten = false;

  constructor(
    private readonly host: StreamHost,
    init: SpdyStreamInit,
  ) {
    super({
      readableHighWaterMark: init.readableHighWaterMark,
      writableHighWaterMark: init.writableHighWaterMark,
      allowHalfOpen: true,
    });
    this.id = init.id;
    this.headers = init.headers;
    this.isLocallyOpened = init.isLocallyOpened;
    this.localFinished = init.isLocalFinished;
    this.remoteFinished = init.isRemoteFinished;
    if (this.localFinished) this.end();
    if (this.remoteFinished) this.push(null);
  }

  get isLocalFinished(): boolean {
    return this.localFinished;
  }

  get isRemoteFinished(): boolean {
    return this.remoteFinished;
  }

  /** Sends RST_STREAM(status) and destroys the stream (no error). A no-op on a stream already closed. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.destroyed || this.resetStatus !== null) return;
    this.resetStatus = status;
    this.host.sendReset(this, status);
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.host.writeData(this, chunk, false, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.localFinished) {
      done();
      return;
    }
    this.localFinished = true;
    this.host.writeData(this, Buffer.alloc(0), true, done);
    this.closeIfDone();
  }

  override _read(): void {
    this.host.streamDrained(this);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.forget();
    done(err);
  }

  /** Session side: a DATA payload arrived. Returns false when the reader is behind (the session pauses input). */
  receiveData(data: Buffer): boolean {
    if (this.destroyed) return true;
    return this.push(data);
  }

  /** Session side: the peer closed its half (FIN on DATA, SYN_REPLY or HEADERS). */
  receiveFin(): void {
    if (this.remoteFinished) return;
    this.remoteFinished = true;
    if (!this.destroyed) this.push(null);
    this.closeIfDone();
  }

  receiveReply(headers: HeaderMap): void {
    this.replyHeaders = headers;
    this.emit('reply', headers);
  }

  receiveHeaders(headers: HeaderMap): void {
    this.emit('headers', headers);
  }

  /** Session side: the peer reset the stream, or the session is going down (status null: no frame involved). */
  receiveReset(status: number | null): void {
    if (this.isForgotten && this.destroyed) return;
    if (status !== null) {
      this.resetStatus = status;
      this.emit('reset', status);
    } else if (this.resetStatus === null && !(this.localFinished && this.remoteFinished)) {
      this.resetStatus = RstStatus.CANCEL;
    }
    this.destroy();
  }

  private closeIfDone(): void {
    if (this.localFinished && this.remoteFinished) this.forget();
  }

  private forget(): void {
    if (this.isForgotten) return;
    this.isForgotten = true;
    this.host.streamClosed(this);
  }
}
