/**
 * Makes the CRI socket usable by clients that send the unix socket PATH as the HTTP/2 :authority
 * (crictl/critest v1.26 do; kubelet sends "localhost" since Kubernetes 1.26). Node's HTTP/2 server
 * (nghttp2 HTTP messaging checks) answers such a request with RST_STREAM PROTOCOL_ERROR, and Node offers no
 * switch to relax it, so berthd reads the client-to-server byte stream itself: every header block is
 * decoded with HPACK, an :authority that is not a valid RFC 3986 authority becomes "localhost", and the
 * block is re-encoded. Everything else (DATA, SETTINGS, PING, ... and the whole server-to-client
 * direction) passes through untouched.
 *
 * The re-encoded blocks use literals without indexing, so the server's HPACK decoder table never gains an
 * entry and stays consistent; the client's encoder table is mirrored by our decoder. HTTP/2 framing
 * (RFC 9113 section 4, 6.2, 6.10) is parsed here by hand: it is 9-byte headers, no maintained npm
 * library does this splice, and hpack.js does the compression part.
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import hpack from 'hpack.js';
import type { Compressor, Decompressor, HpackHeader } from 'hpack.js';

const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
export const FRAME_HEADER_LENGTH = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** The server's SETTINGS_MAX_FRAME_SIZE: Node's default, never raised by berthd. */
const MAX_FRAME_PAYLOAD = 16_384;
/** Header blocks larger than this are refused (grpc-js's own limit on metadata is 8 KiB by default). */
export const MAX_HEADER_BLOCK = 1024 * 1024;
const HEADER_TABLE_SIZE = 4096;

// RFC 3986 authority = [userinfo "@"] host [":" port]: unreserved, pct-encoded, sub-delims, ":", "@", "[", "]".
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@[\]]*$/;

export function isValidAuthority(value: string): boolean {
  return VALID_AUTHORITY.test(value);
}

interface PendingHeaders {
  readonly streamId: number;
  readonly flags: number;
  readonly priority: Buffer | undefined;
  readonly fragments: Buffer[];
  size: number;
}

export class AuthorityRewriter extends Transform {
  private buffered: Buffer = Buffer.alloc(0);
  private isPrefaceSeen = false;
  private pending: PendingHeaders | undefined;
  private readonly decoder: Decompressor = hpack.decompressor.create({ table: { size: HEADER_TABLE_SIZE } });
  private readonly encoder: Compressor = hpack.compressor.create({ table: { size: HEADER_TABLE_SIZE } });
  /** How many :authority values were replaced (for tests and debug logs). */
  rewrites = 0;

  constructor() {
    super();
    // A malformed header block from the client ends this connection, never the daemon.
    this.decoder.on('error', (err) => this.destroy(err));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      this.drain();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private drain(): void {
    if (!this.isPrefaceSeen) {
      if (this.buffered.length < PREFACE_LENGTH) return;
      this.push(this.buffered.subarray(0, PREFACE_LENGTH));
      this.buffered = this.buffered.subarray(PREFACE_LENGTH);
      this.isPrefaceSeen = true;
    }
    while (this.buffered.length >= FRAME_HEADER_LENGTH) {
      const length = this.buffered.readUIntBE(0, 3);
      const total = FRAME_HEADER_LENGTH + length;
      if (this.buffered.length < total) return;
      const frame = this.buffered.subarray(0, total);
      this.buffered = this.buffered.subarray(total);
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER_LENGTH);
    if (type === TYPE_HEADERS) {
      let start = 0;
      let end = payload.length;
      if (flags & FLAG_PADDED) {
        end -= payload[0] ?? 0;
        start = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = Buffer.from(payload.subarray(start, start + 5));
        start += 5;
      }
      if (end < start) throw new Error('http2: HEADERS padding exceeds the frame');
      this.pending = {
        streamId,
        flags,
        priority,
        fragments: [Buffer.from(payload.subarray(start, end))],
        size: end - start,
      };
      if (flags & FLAG_END_HEADERS) this.flushHeaders();
      return;
    }
    if (type === TYPE_CONTINUATION && this.pending !== undefined && this.pending.streamId === streamId) {
      this.pending.fragments.push(Buffer.from(payload));
      this.pending.size += payload.length;
      if (this.pending.size > MAX_HEADER_BLOCK) throw new Error('http2: header block too large');
      if (flags & FLAG_END_HEADERS) this.flushHeaders();
      return;
    }
    this.push(frame);
  }

  private flushHeaders(): void {
    const pending = this.pending!;
    this.pending = undefined;
    this.decoder.write(Buffer.concat(pending.fragments));
    this.decoder.execute();
    const headers: HpackHeader[] = [];
    for (let h = this.decoder.read(); h !== null; h = this.decoder.read()) {
      let value = h.value;
      if (h.name === ':authority' && !isValidAuthority(value)) {
        value = 'localhost';
        this.rewrites++;
      }
      headers.push({ name: h.name, value, neverIndex: h.neverIndex, incremental: false, huffman: false });
    }
    this.encoder.write(headers);
    const parts: Buffer[] = [];
    for (let b = this.encoder.read(); b !== null; b = this.encoder.read()) parts.push(b);
    const block = Buffer.concat(parts);

    const priority = pending.priority ?? Buffer.alloc(0);
    const firstRoom = MAX_FRAME_PAYLOAD - priority.length;
    let offset = Math.min(block.length, firstRoom);
    const isLast = offset === block.length;
    const flags = (pending.flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | (isLast ? FLAG_END_HEADERS : 0);
    this.push(frameOf(TYPE_HEADERS, flags, pending.streamId, Buffer.concat([priority, block.subarray(0, offset)])));
    while (offset < block.length) {
      const next = Math.min(block.length, offset + MAX_FRAME_PAYLOAD);
      const end = next === block.length ? FLAG_END_HEADERS : 0;
      this.push(frameOf(TYPE_CONTINUATION, end, pending.streamId, block.subarray(offset, next)));
      offset = next;
    }
  }
}

function frameOf(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}
