/**
 * A SPDY/3.1 session over one upgraded connection: stream multiplexing, header compression, PING and GOAWAY.
 * Written by hand, as no maintained npm library implements SPDY/3.1 (see index.ts).
 * kubectl, crictl (v1.26) and the kubelet's proxy speak exec/attach/port-forward over SPDY through Go's
 * moby/spdystream, so this is the peer we are built and tested against (DESIGN.md, Facts 1):
 *
 * - Header blocks go through ONE deflate context per direction (header-block.ts). Those contexts are async, so
 *   frames keep their order through two queues: inbound frames wait while a header block inflates, and outbound
 *   frames wait in `outbox` behind a frame whose header block is still compressing (a DATA frame must never
 *   overtake the SYN_REPLY of its stream: spdystream drops data on a stream it has no reply for).
 * - Flow control: spdystream never sends WINDOW_UPDATE, so we do not enforce a send window (output would stall
 *   at 64 KiB). We do send WINDOW_UPDATE for what we receive (stream and session, as 3.1 wants), which Go
 *   ignores. Our own receive side is bounded by TCP instead: when a stream's reader falls behind its high-water
 *   mark the socket is paused until that reader catches up.
 * - Every peer stream is answered with SYN_REPLY at once (the Go client waits for it); PINGs of the peer's
 *   parity are echoed; a stream error is answered with RST_STREAM, a session error with GOAWAY and close.
 * - Stream ids: a client opens odd ids, a server even ids, each strictly increasing (section 2.3.2).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { BerthError, messageOf } from '../../base/errors.js';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  GoawayStatus,
  MAX_FRAME_PAYLOAD_BYTES,
  MAX_STREAM_ID,
  RstStatus,
  SpdyFrameError,
  encodeDataHeader,
  encodeGoaway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from './frames.js';
import type { Frame } from './frames.js';
import { HeaderCompressor, HeaderDecompressor, parseHeaders, serializeHeaders } from './header-block.js';
import type { HeaderMap } from './header-block.js';
import { SpdyStream } from './spdy-stream.js';
import type { StreamHost } from './spdy-stream.js';

/** The largest DATA payload we send; bigger writes are split. Keeps one stream from hogging the socket for long. */
export const MAX_DATA_FRAME_BYTES = 64 * 1024;
/** Bytes a stream buffers for a slow reader before the socket is paused. */
export const STREAM_RECEIVE_BUFFER_BYTES = 1024 * 1024;
const STREAM_WRITE_BUFFER_BYTES = 64 * 1024;
/** The SPDY/3.1 initial window is 64 KiB: acknowledge at half of it, before a flow-controlled peer can stall. */
const WINDOW_UPDATE_THRESHOLD_BYTES = 32 * 1024;
/** After our last frame and FIN, how long the peer gets to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 10_000;
/** How many stream ids we remember having reset, to drop their in-flight frames quietly. */
const RESET_IDS_REMEMBERED = 1024;

export interface SpdySessionOptions {
  readonly isServer: boolean;
  /** Cap on one received frame's payload (default: 16 MiB, the most the 24-bit length can say). */
  readonly maxFrameBytes?: number;
  /** Bytes already read from the socket (e.g. the head of an HTTP upgrade); processed before the socket's data. */
  readonly head?: Buffer;
}

interface OutboxItem {
  /** null while the frame's header block is being compressed. */
  bufs: readonly Buffer[] | null;
  readonly done?: (err?: Error | null) => void;
}

interface PendingPing {
  readonly startedMs: number;
  readonly resolve: (rttMs: number) => void;
  readonly reject: (err: Error) => void;
}

type Callback = (err?: Error | null) => void;

function closedError(): BerthError {
  return new BerthError('UNAVAILABLE', 'spdy: session closed');
}

/**
 * Events: 'stream' (SpdyStream) for each stream the peer opens (already answered with an empty SYN_REPLY unless
 * unidirectional); 'goaway' (lastGoodStreamId, status) when the peer sends GOAWAY; 'error' (err) for a protocol
 * or socket error (emitted only when someone listens: a bad peer must not crash the daemon); 'close' once,
 * after the socket closed.
 */
export class SpdySession extends EventEmitter implements StreamHost {
  readonly isServer: boolean;
  private readonly parser: FrameParser;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly congested = new Set<SpdyStream>();
  private readonly resetIds = new Set<number>();
  private readonly pings = new Map<number, PendingPing>();
  private readonly unackedBytes = new Map<number, number>();
  private outbox: OutboxItem[] = [];
  private drainWaiters: Callback[] = [];
  private nextStreamId: number;
  private nextPingId: number;
  private lastPeerStreamId = 0;
  private isInflating = false;
  private isInputPaused = false;
  private isGoingAway = false;
  private isPeerGoingAway = false;
  private isEnding = false;
  private hasEndedSocket = false;
  private isDestroyed = false;
  private hasEmittedClose = false;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Duplex,
    opts: SpdySessionOptions,
  ) {
    super();
    this.isServer = opts.isServer;
    this.parser = new FrameParser(Math.min(opts.maxFrameBytes ?? MAX_FRAME_PAYLOAD_BYTES, MAX_FRAME_PAYLOAD_BYTES));
    this.nextStreamId = this.isServer ? 2 : 1;
    this.nextPingId = this.isServer ? 2 : 1;
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.onSocketClose());
    // spdystream never half-closes a connection: the end of input is the end of the session.
    socket.on('end', () => this.destroy());
    socket.on('drain', () => this.onDrain());
    // Deferred so the caller can attach 'stream' listeners before the head's frames are handled.
    process.nextTick(() => {
      if (this.isDestroyed) return;
      if (opts.head && opts.head.length > 0) this.onSocketData(opts.head);
      socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
      // An upgraded socket may have been paused by the HTTP server; flow unless the head made us wait.
      if (!this.isInputPaused) socket.resume();
    });
  }

  /** Streams not yet closed in both directions (nor reset). */
  get activeStreamCount(): number {
    return this.streams.size;
  }

  get isClosed(): boolean {
    return this.isDestroyed;
  }

  /** Opens a stream (SYN_STREAM). Its 'reply' event carries the peer's SYN_REPLY headers. */
  openStream(headers: HeaderMap, opts: { readonly fin?: boolean; readonly unidirectional?: boolean } = {}): SpdyStream {
    if (this.isDestroyed || this.isGoingAway || this.isPeerGoingAway || this.isEnding) {
      throw new BerthError('UNAVAILABLE', 'spdy: session is closing, no new streams');
    }
    const block = serializeHeaders(headers);
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) throw new BerthError('RESOURCE_EXHAUSTED', 'spdy: stream ids exhausted on this session');
    this.nextStreamId += 2;
    const isFin = opts.fin === true;
    const isUnidirectional = opts.unidirectional === true;
    const stream = this.newStream(id, parseHeaders(block), true, isFin, isUnidirectional);
    if (!(isFin && isUnidirectional)) this.streams.set(id, stream);
    const flags = (isFin ? FLAG_FIN : 0) | (isUnidirectional ? FLAG_UNIDIRECTIONAL : 0);
    this.sendHeaderFrame(block, (compressed) => encodeSynStream(id, 0, 0, flags, compressed));
    return stream;
  }

  /** Sends a PING and resolves with the round trip in milliseconds; rejects if the session closes first. */
  ping(): Promise<number> {
    if (this.isDestroyed || this.isEnding) return Promise.reject(closedError());
    const id = this.nextPingId;
    // Ids keep our parity (client odd, server even) and wrap within 31 bits.
    this.nextPingId = id + 2 > MAX_STREAM_ID ? (this.isServer ? 2 : 1) : id + 2;
    return new Promise<number>((resolve, reject) => {
      this.pings.set(id, { startedMs: performance.now(), resolve, reject });
      this.enqueue([encodePing(id)]);
    });
  }

  /** Sends GOAWAY: no new streams either way; the socket closes once the open streams are done. */
  goaway(status: number = GoawayStatus.OK): void {
    if (this.isDestroyed || this.isGoingAway) return;
    this.isGoingAway = true;
    this.enqueue([encodeGoaway(this.lastPeerStreamId, status)]);
    this.finishIfIdle();
  }

  /** Closes the socket at once; open streams are destroyed (no RST_STREAM) and pending pings rejected. */
  destroy(err?: Error): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.compressor.close();
    this.decompressor.close();
    for (const stream of [...this.streams.values()]) stream.receiveReset(null);
    this.streams.clear();
    this.congested.clear();
    const closed = closedError();
    for (const ping of this.pings.values()) ping.reject(closed);
    this.pings.clear();
    const callbacks = [...this.outbox.flatMap((item) => (item.done ? [item.done] : [])), ...this.drainWaiters];
    this.outbox = [];
    this.drainWaiters = [];
    for (const done of callbacks) done(closed);
    this.socket.destroy();
    if (err && this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ---- StreamHost: called by SpdyStream ----

  writeData(stream: SpdyStream, data: Buffer, isFin: boolean, done: Callback): void {
    if (this.isDestroyed || stream.resetStatus !== null) {
      done(closedError());
      return;
    }
    if (data.length === 0 && !isFin) {
      done();
      return;
    }
    let offset = 0;
    do {
      const size = Math.min(MAX_DATA_FRAME_BYTES, data.length - offset);
      const payload = data.subarray(offset, offset + size);
      offset += size;
      const isLast = offset >= data.length;
      const header = encodeDataHeader(stream.id, isLast && isFin ? FLAG_FIN : 0, size);
      this.enqueue(size > 0 ? [header, payload] : [header], isLast ? done : undefined);
    } while (offset < data.length);
  }

  sendReset(stream: SpdyStream, status: number): void {
    if (this.isDestroyed) return;
    this.rememberReset(stream.id);
    this.enqueue([encodeRstStream(stream.id, status)]);
  }

  streamDrained(stream: SpdyStream): void {
    if (this.congested.delete(stream)) this.updateInputFlow();
  }

  streamClosed(stream: SpdyStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.unackedBytes.delete(stream.id);
    if (this.congested.delete(stream)) this.updateInputFlow();
    if (this.isDestroyed) return;
    const isOpen = !stream.isLocalFinished || !stream.isRemoteFinished;
    if (isOpen && stream.resetStatus === null) {
      // Destroyed by its user before both FINs: tell the peer (spec 2.4.2, CANCEL).
      stream.resetStatus = RstStatus.CANCEL;
      this.sendReset(stream, RstStatus.CANCEL);
    }
    this.finishIfIdle();
  }

  // ---- inbound ----

  private onSocketData(chunk: Buffer): void {
    if (this.isDestroyed || this.isEnding) return;
    this.parser.push(chunk);
    this.pump();
  }

  /** Handles buffered frames in order; stops while a header block inflates (its frame must finish first). */
  private pump(): void {
    try {
      while (!this.isInflating && !this.isDestroyed && !this.isEnding) {
        const frame = this.parser.next();
        if (frame === null) return;
        this.handleFrame(frame);
      }
    } catch (err) {
      this.sessionError(err);
    }
  }

  private handleFrame(frame: Frame): void {
    switch (frame.kind) {
      case 'data':
        this.handleData(frame.streamId, frame.flags, frame.data);
        return;
      case 'syn_stream':
      case 'syn_reply':
      case 'headers':
        this.inflateThen(frame.headerBlock, (headers) => this.handleHeaderFrame(frame, headers));
        return;
      case 'rst_stream':
        // Never answer a RST_STREAM with one (spec 2.4.2); an unknown stream was already gone.
        this.rememberReset(frame.streamId);
        this.streams.get(frame.streamId)?.receiveReset(frame.status);
        return;
      case 'ping':
        this.handlePing(frame.id);
        return;
      case 'goaway':
        this.handleGoaway(frame.lastGoodStreamId, frame.status);
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        // No send window is enforced (see the header), no setting changes what we do, unknown types are ignored.
        return;
      default:
        assertNever(frame);
    }
  }

  /**
   * Every header block goes through the inflater, even for frames we then ignore, or the shared context would
   * fall out of step. A block that does not inflate breaks the context: that is a session error.
   */
  private inflateThen(compressed: Buffer, then: (block: Buffer) => void): void {
    this.isInflating = true;
    this.updateInputFlow();
    this.decompressor.decompress(compressed).then(
      (block) => {
        this.isInflating = false;
        this.updateInputFlow();
        if (this.isDestroyed || this.isEnding) return;
        try {
          then(block);
        } catch (err) {
          this.sessionError(err);
          return;
        }
        this.pump();
      },
      (err: unknown) => {
        this.isInflating = false;
        this.sessionError(new SpdyFrameError(`header block: ${messageOf(err)}`));
      },
    );
  }

  private handleHeaderFrame(
    frame: Extract<Frame, { kind: 'syn_stream' | 'syn_reply' | 'headers' }>,
    block: Buffer,
  ): void {
    // A malformed block is a stream error (the compression context itself is fine).
    const headers = parseHeadersOrNull(block);
    if (frame.kind === 'syn_stream') {
      this.handleSynStream(frame, headers);
      return;
    }
    const stream = this.streams.get(frame.streamId);
    if (stream === undefined) {
      this.refuseUnknownStream(frame.streamId);
      return;
    }
    if (headers === null) {
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    if (frame.kind === 'syn_reply') {
      // A SYN_REPLY answers only our own streams, and only once (spec 2.6.2).
      if (!stream.isLocallyOpened) {
        stream.reset(RstStatus.PROTOCOL_ERROR);
        return;
      }
      if (stream.replyHeaders !== null) {
        stream.reset(RstStatus.STREAM_IN_USE);
        return;
      }
      stream.receiveReply(headers);
    } else {
      stream.receiveHeaders(headers);
    }
    if ((frame.flags & FLAG_FIN) !== 0) stream.receiveFin();
  }

  private handleSynStream(frame: Extract<Frame, { kind: 'syn_stream' }>, headers: Record<string, string> | null): void {
    const id = frame.streamId;
    const peerParity = this.isServer ? 1 : 0;
    if ((id & 1) !== peerParity || id <= this.lastPeerStreamId) {
      throw new SpdyFrameError(`SYN_STREAM with stream id ${id} after ${this.lastPeerStreamId}`);
    }
    this.lastPeerStreamId = id;
    // After our GOAWAY new streams are ignored (spec 2.6.6); the peer learns which were not processed from it.
    if (this.isGoingAway) return;
    if (headers === null) {
      this.rememberReset(id);
      this.enqueue([encodeRstStream(id, RstStatus.PROTOCOL_ERROR)]);
      return;
    }
    const isUnidirectional = (frame.flags & FLAG_UNIDIRECTIONAL) !== 0;
    const isFin = (frame.flags & FLAG_FIN) !== 0;
    const stream = this.newStream(id, headers, false, isUnidirectional, isFin);
    if (!(isUnidirectional && isFin)) this.streams.set(id, stream);
    // Queued before anything the 'stream' listener writes, so the reply always precedes the stream's data.
    if (!isUnidirectional) this.sendHeaderFrame(serializeHeaders({}), (b) => encodeSynReply(id, 0, b));
    this.emit('stream', stream);
  }

  private handleData(streamId: number, flags: number, data: Buffer): void {
    this.acknowledge(0, data.length);
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.refuseUnknownStream(streamId);
      return;
    }
    if (stream.isRemoteFinished) {
      stream.reset(RstStatus.STREAM_ALREADY_CLOSED);
      return;
    }
    if (data.length > 0) {
      if (!stream.receiveData(data) && !this.congested.has(stream)) {
        this.congested.add(stream);
        this.updateInputFlow();
      }
      if ((flags & FLAG_FIN) === 0) this.acknowledge(streamId, data.length);
    }
    if ((flags & FLAG_FIN) !== 0) stream.receiveFin();
  }

  /** WINDOW_UPDATE for received bytes (stream 0 = session, SPDY/3.1), sent in batches of half a window. */
  private acknowledge(streamId: number, size: number): void {
    if (size === 0 || this.isGoingAway) return;
    const pending = (this.unackedBytes.get(streamId) ?? 0) + size;
    if (pending < WINDOW_UPDATE_THRESHOLD_BYTES) {
      this.unackedBytes.set(streamId, pending);
      return;
    }
    this.unackedBytes.set(streamId, 0);
    this.enqueue([encodeWindowUpdate(streamId, pending)]);
  }

  /**
   * A frame for a stream we do not have. Frames still in flight for a stream either side reset are dropped;
   * otherwise the spec asks for RST_STREAM INVALID_STREAM (2.4.2), once per stream id.
   */
  private refuseUnknownStream(streamId: number): void {
    if (this.resetIds.has(streamId) || this.isGoingAway) return;
    this.rememberReset(streamId);
    this.enqueue([encodeRstStream(streamId, RstStatus.INVALID_STREAM)]);
  }

  private rememberReset(streamId: number): void {
    this.resetIds.add(streamId);
    if (this.resetIds.size > RESET_IDS_REMEMBERED) {
      const oldest = this.resetIds.values().next();
      if (!oldest.done) this.resetIds.delete(oldest.value);
    }
  }

  private handlePing(id: number): void {
    const ourParity = this.isServer ? 0 : 1;
    if ((id & 1) !== ourParity) {
      this.enqueue([encodePing(id)]);
      return;
    }
    // Our own parity: the answer to one of our pings, or an unsolicited one to ignore (spec 2.6.5).
    const pending = this.pings.get(id);
    if (pending === undefined) return;
    this.pings.delete(id);
    pending.resolve(performance.now() - pending.startedMs);
  }

  private handleGoaway(lastGoodStreamId: number, status: number): void {
    this.isPeerGoingAway = true;
    // Our streams above lastGoodStreamId were never seen by the peer (spec 2.6.6): they are gone.
    for (const stream of [...this.streams.values()]) {
      if (stream.isLocallyOpened && stream.id > lastGoodStreamId) stream.receiveReset(RstStatus.REFUSED_STREAM);
    }
    this.emit('goaway', lastGoodStreamId, status);
    this.finishIfIdle();
  }

  /** A session error (spec 2.4.1): GOAWAY with the status, then close. Never throws. */
  private sessionError(err: unknown): void {
    if (this.isDestroyed || this.isEnding) return;
    const status = err instanceof SpdyFrameError ? err.goawayStatus : GoawayStatus.INTERNAL_ERROR;
    const error = err instanceof Error ? err : new BerthError('INTERNAL', messageOf(err));
    this.isGoingAway = true;
    // Whatever was queued is dropped: after a protocol error only the GOAWAY matters.
    const dropped = this.outbox.flatMap((item) => (item.done ? [item.done] : []));
    this.outbox = [{ bufs: [encodeGoaway(this.lastPeerStreamId, status)] }];
    this.endSocket();
    for (const stream of [...this.streams.values()]) stream.receiveReset(null);
    for (const done of dropped) done(closedError());
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  // ---- outbound ----

  private newStream(
    id: number,
    headers: HeaderMap,
    isLocallyOpened: boolean,
    isLocalFinished: boolean,
    isRemoteFinished: boolean,
  ): SpdyStream {
    return new SpdyStream(this, {
      id,
      headers,
      isLocallyOpened,
      isLocalFinished,
      isRemoteFinished,
      readableHighWaterMark: STREAM_RECEIVE_BUFFER_BYTES,
      writableHighWaterMark: STREAM_WRITE_BUFFER_BYTES,
    });
  }

  /** Queues a frame whose header block must first pass the shared deflate context; its place in line is kept. */
  private sendHeaderFrame(block: Buffer, build: (compressed: Buffer) => Buffer): void {
    const item: OutboxItem = { bufs: null };
    this.outbox.push(item);
    this.compressor.compress(block).then(
      (compressed) => {
        item.bufs = [build(compressed)];
        this.flushOutbox();
      },
      (err: unknown) => {
        if (!this.isDestroyed) this.destroy(err instanceof Error ? err : new Error(messageOf(err)));
      },
    );
  }

  private enqueue(bufs: readonly Buffer[], done?: Callback): void {
    this.outbox.push(done ? { bufs, done } : { bufs });
    this.flushOutbox();
  }

  /**
   * Writes every ready frame at the head of the queue. A writer's callback runs when the socket took its frame
   * without asking for a drain, else after 'drain': the stream's own backpressure then follows the socket's.
   */
  private flushOutbox(): void {
    if (this.isDestroyed) return;
    if (this.hasEndedSocket || this.socket.destroyed) {
      const dropped = this.outbox.flatMap((item) => (item.done ? [item.done] : []));
      this.outbox = [];
      for (const done of dropped) done(closedError());
      return;
    }
    const ready: Callback[] = [];
    let written = 0;
    this.socket.cork();
    for (const item of this.outbox) {
      if (item.bufs === null) break;
      for (const buf of item.bufs) this.socket.write(buf);
      written++;
      if (item.done) {
        if (this.socket.writableNeedDrain) this.drainWaiters.push(item.done);
        else ready.push(item.done);
      }
    }
    this.outbox.splice(0, written);
    this.socket.uncork();
    if (this.isEnding && this.outbox.length === 0) {
      this.hasEndedSocket = true;
      this.socket.end();
    }
    for (const done of ready) done();
  }

  private onDrain(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const done of waiters) done();
  }

  /**
   * Input waits while a header block inflates (frames behind it cannot be handled yet, so they would only pile
   * up) and while some stream's reader is behind. Frames already read are still handled in both cases.
   */
  private updateInputFlow(): void {
    // While ending, input is read (and dropped) so the peer's FIN is seen and the socket can close.
    const shouldPause = !this.isEnding && (this.isInflating || this.congested.size > 0);
    if (shouldPause === this.isInputPaused || this.isDestroyed) return;
    this.isInputPaused = shouldPause;
    if (shouldPause) this.socket.pause();
    else this.socket.resume();
  }

  /** After a GOAWAY either way, close once no stream is left. */
  private finishIfIdle(): void {
    if ((this.isGoingAway || this.isPeerGoingAway) && this.streams.size === 0) this.endSocket();
  }

  /** Sends what is queued, then FIN; the peer gets CLOSE_GRACE_MS to close its side before we destroy. */
  private endSocket(): void {
    if (this.isEnding || this.isDestroyed) return;
    this.isEnding = true;
    this.updateInputFlow();
    this.flushOutbox();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  private onSocketClose(): void {
    this.destroy();
    if (this.hasEmittedClose) return;
    this.hasEmittedClose = true;
    this.emit('close');
  }
}

function parseHeadersOrNull(block: Buffer): Record<string, string> | null {
  try {
    return parseHeaders(block);
  } catch {
    return null;
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled frame ${JSON.stringify(value)}`);
}
