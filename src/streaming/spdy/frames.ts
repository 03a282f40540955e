/**
 * SPDY/3.1 frame layouts: encoders for every frame Berth sends and an incremental parser for what the peer
 * sends. Header blocks stay compressed here; header-block.ts owns the zlib contexts.
 *
 * Layouts follow the SPDY/3 draft (section 2.2, 2.6) with the 3.1 change that WINDOW_UPDATE on stream 0 is
 * session-level. The peer we must satisfy is moby/spdystream's `spdy` package (crictl, kubectl, kubelet); it
 * closes the whole connection on any frame it cannot parse, so the fixed lengths below are exact: RST_STREAM,
 * GOAWAY and WINDOW_UPDATE carry 8 bytes, PING 4, SYN_STREAM 10 before its header block, SYN_REPLY and
 * HEADERS 4. It also rejects unknown control types, a PING id 0 and a RST_STREAM status 0, so we never send those.
 *
 *   control: |1| version(15) | type(16) | flags(8) | length(24) | payload
 *   data:    |0| stream-id(31)           | flags(8) | length(24) | payload
 */
import { BerthError } from '../../base/errors.js';

export const SPDY_VERSION = 3;
export const FRAME_HEADER_BYTES = 8;
/** The length field is 24 bits. */
export const MAX_FRAME_PAYLOAD_BYTES = 0xffffff;
export const MAX_STREAM_ID = 0x7fffffff;

export const FrameType = Object.freeze({
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const);

/** FLAG_FIN on DATA, SYN_STREAM, SYN_REPLY and HEADERS: the sender's half of the stream is closed. */
export const FLAG_FIN = 0x01;
/** SYN_STREAM only: the recipient may not send on this stream (it starts half-closed on its side). */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (section 2.6.3). */
export const RstStatus = Object.freeze({
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const);

/** GOAWAY status codes (section 2.6.6). */
export const GoawayStatus = Object.freeze({ OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const);

export interface SettingsEntry {
  readonly flags: number;
  readonly id: number;
  readonly value: number;
}

/** One decoded frame. `headerBlock` is still zlib-compressed (the session's shared inflater decodes it). */
export type Frame =
  | { readonly kind: 'data'; readonly streamId: number; readonly flags: number; readonly data: Buffer }
  | {
      readonly kind: 'syn_stream';
      readonly streamId: number;
      readonly associatedStreamId: number;
      readonly priority: number;
      readonly flags: number;
      readonly headerBlock: Buffer;
    }
  | { readonly kind: 'syn_reply'; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: 'headers'; readonly streamId: number; readonly flags: number; readonly headerBlock: Buffer }
  | { readonly kind: 'rst_stream'; readonly streamId: number; readonly status: number }
  | { readonly kind: 'settings'; readonly flags: number; readonly entries: readonly SettingsEntry[] }
  | { readonly kind: 'ping'; readonly id: number }
  | { readonly kind: 'goaway'; readonly lastGoodStreamId: number; readonly status: number }
  | { readonly kind: 'window_update'; readonly streamId: number; readonly delta: number }
  /** The spec says to ignore control frames of unknown type (NOOP and CREDENTIAL included). */
  | { readonly kind: 'unknown'; readonly type: number; readonly flags: number };

/** A frame the peer got wrong. The session answers it with GOAWAY(status) and closes. */
export class SpdyFrameError extends BerthError {
  readonly goawayStatus: number;

  constructor(message: string, goawayStatus: number = GoawayStatus.PROTOCOL_ERROR) {
    super('INVALID_ARGUMENT', `spdy: ${message}`);
    this.goawayStatus = goawayStatus;
  }
}

function controlHeader(type: number, flags: number, payloadBytes: number, into: Buffer): void {
  into.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  into.writeUInt16BE(type, 2);
  into.writeUInt32BE(((flags & 0xff) << 24) | payloadBytes, 4);
}

function fixedControlFrame(type: number, first: number, second: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8);
  controlHeader(type, 0, 8, buf);
  buf.writeUInt32BE(first, 8);
  buf.writeUInt32BE(second, 12);
  return buf;
}

/** The 8 bytes in front of a DATA payload; the payload is written after it unchanged (no copy). */
export function encodeDataHeader(streamId: number, flags: number, payloadBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  buf.writeUInt32BE(streamId & MAX_STREAM_ID, 0);
  buf.writeUInt32BE(((flags & 0xff) << 24) | payloadBytes, 4);
  return buf;
}

export function encodeSynStream(
  streamId: number,
  associatedStreamId: number,
  priority: number,
  flags: number,
  headerBlock: Buffer,
): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 10 + headerBlock.length);
  controlHeader(FrameType.SYN_STREAM, flags, 10 + headerBlock.length, buf);
  buf.writeUInt32BE(streamId & MAX_STREAM_ID, 8);
  buf.writeUInt32BE(associatedStreamId & MAX_STREAM_ID, 12);
  buf.writeUInt8((priority & 0x7) << 5, 16);
  buf.writeUInt8(0, 17); // credential slot: unused
  headerBlock.copy(buf, 18);
  return buf;
}

function streamHeaderFrame(type: number, streamId: number, flags: number, headerBlock: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4 + headerBlock.length);
  controlHeader(type, flags, 4 + headerBlock.length, buf);
  buf.writeUInt32BE(streamId & MAX_STREAM_ID, 8);
  headerBlock.copy(buf, 12);
  return buf;
}

export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return streamHeaderFrame(FrameType.SYN_REPLY, streamId, flags, headerBlock);
}

export function encodeHeaders(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return streamHeaderFrame(FrameType.HEADERS, streamId, flags, headerBlock);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return fixedControlFrame(FrameType.RST_STREAM, streamId & MAX_STREAM_ID, status);
}

export function encodeGoaway(lastGoodStreamId: number, status: number): Buffer {
  return fixedControlFrame(FrameType.GOAWAY, lastGoodStreamId & MAX_STREAM_ID, status);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return fixedControlFrame(FrameType.WINDOW_UPDATE, streamId & MAX_STREAM_ID, delta & MAX_STREAM_ID);
}

export function encodePing(id: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  controlHeader(FrameType.PING, 0, 4, buf);
  buf.writeUInt32BE(id >>> 0, 8);
  return buf;
}

export function encodeSettings(entries: readonly SettingsEntry[], flags = 0): Buffer {
  const payloadBytes = 4 + 8 * entries.length;
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  controlHeader(FrameType.SETTINGS, flags, payloadBytes, buf);
  buf.writeUInt32BE(entries.length, 8);
  entries.forEach((e, i) => {
    buf.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 12 + 8 * i);
    buf.writeUInt32BE(e.value >>> 0, 16 + 8 * i);
  });
  return buf;
}

function requireLength(name: string, payload: Buffer, exact: number): void {
  if (payload.length !== exact) throw new SpdyFrameError(`${name} frame of ${payload.length} bytes, want ${exact}`);
}

function requireMinLength(name: string, payload: Buffer, min: number): void {
  if (payload.length < min) throw new SpdyFrameError(`${name} frame of ${payload.length} bytes, want >= ${min}`);
}

function nonZeroStreamId(name: string, id: number): number {
  if (id === 0) throw new SpdyFrameError(`${name} frame on stream 0`);
  return id;
}

function decodeControl(type: number, flags: number, p: Buffer): Frame {
  switch (type) {
    case FrameType.SYN_STREAM:
      requireMinLength('SYN_STREAM', p, 10);
      return {
        kind: 'syn_stream',
        streamId: nonZeroStreamId('SYN_STREAM', p.readUInt32BE(0) & MAX_STREAM_ID),
        associatedStreamId: p.readUInt32BE(4) & MAX_STREAM_ID,
        priority: p.readUInt8(8) >> 5,
        flags,
        headerBlock: p.subarray(10),
      };
    case FrameType.SYN_REPLY:
    case FrameType.HEADERS: {
      const name = type === FrameType.SYN_REPLY ? 'SYN_REPLY' : 'HEADERS';
      requireMinLength(name, p, 4);
      return {
        kind: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers',
        streamId: nonZeroStreamId(name, p.readUInt32BE(0) & MAX_STREAM_ID),
        flags,
        headerBlock: p.subarray(4),
      };
    }
    case FrameType.RST_STREAM: {
      requireLength('RST_STREAM', p, 8);
      const status = p.readUInt32BE(4);
      if (status === 0) throw new SpdyFrameError('RST_STREAM with status 0');
      return { kind: 'rst_stream', streamId: nonZeroStreamId('RST_STREAM', p.readUInt32BE(0) & MAX_STREAM_ID), status };
    }
    case FrameType.SETTINGS: {
      requireMinLength('SETTINGS', p, 4);
      const count = p.readUInt32BE(0);
      requireLength('SETTINGS', p, 4 + 8 * count);
      const entries: SettingsEntry[] = [];
      for (let i = 0; i < count; i++) {
        const flagsAndId = p.readUInt32BE(4 + 8 * i);
        entries.push({ flags: flagsAndId >>> 24, id: flagsAndId & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
      }
      return { kind: 'settings', flags, entries };
    }
    case FrameType.PING:
      requireLength('PING', p, 4);
      return { kind: 'ping', id: p.readUInt32BE(0) };
    case FrameType.GOAWAY:
      requireLength('GOAWAY', p, 8);
      return { kind: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & MAX_STREAM_ID, status: p.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      requireLength('WINDOW_UPDATE', p, 8);
      return {
        kind: 'window_update',
        streamId: p.readUInt32BE(0) & MAX_STREAM_ID,
        delta: p.readUInt32BE(4) & MAX_STREAM_ID,
      };
    default:
      return { kind: 'unknown', type, flags };
  }
}

/**
 * Reassembles frames from socket chunks of any size (Go writes a frame in several small writes, and TCP splits
 * and joins them at will). push() bytes, then call next() until it returns null. next() throws SpdyFrameError
 * for a frame the session must answer with GOAWAY; the parser is unusable afterwards.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  /** maxPayloadBytes caps what one frame may make us buffer (checked as soon as its header arrives). */
  constructor(private readonly maxPayloadBytes: number = MAX_FRAME_PAYLOAD_BYTES) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  next(): Frame | null {
    if (this.bufferedBytes < FRAME_HEADER_BYTES) return null;
    const head = this.peek(FRAME_HEADER_BYTES);
    const first = head.readUInt32BE(0);
    const flagsAndLength = head.readUInt32BE(4);
    const flags = flagsAndLength >>> 24;
    const payloadBytes = flagsAndLength & 0xffffff;
    if (payloadBytes > this.maxPayloadBytes) {
      throw new SpdyFrameError(`frame of ${payloadBytes} bytes exceeds the ${this.maxPayloadBytes}-byte limit`);
    }
    const isControl = (first & 0x80000000) !== 0;
    if (isControl) {
      const version = (first >>> 16) & 0x7fff;
      // Another version's header blocks use another dictionary: the shared zlib context cannot survive it.
      if (version !== SPDY_VERSION)
        throw new SpdyFrameError(`control frame of version ${version}, want ${SPDY_VERSION}`);
    } else if ((first & MAX_STREAM_ID) === 0) {
      throw new SpdyFrameError('DATA frame on stream 0');
    }
    if (this.bufferedBytes < FRAME_HEADER_BYTES + payloadBytes) return null;
    this.take(FRAME_HEADER_BYTES);
    const payload = this.take(payloadBytes);
    if (!isControl) return { kind: 'data', streamId: first & MAX_STREAM_ID, flags, data: payload };
    return decodeControl(first & 0xffff, flags, payload);
  }

  /** The first n buffered bytes as one buffer (joining the leading chunks when a frame header straddles them). */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    let joined = 0;
    let count = 0;
    while (joined < n) joined += this.chunks[count++]?.length ?? 0;
    const merged = Buffer.concat(this.chunks.slice(0, count), joined);
    this.chunks.splice(0, count, merged);
    return merged.subarray(0, n);
  }

  private take(n: number): Buffer {
    this.bufferedBytes -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first !== undefined && first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new Error('frame parser: buffer underrun'); // bufferedBytes says otherwise
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}
