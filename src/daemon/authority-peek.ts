/**
 * Decides, per client connection of the CRI socket, whether the client needs the AuthorityRewriter (issue #7).
 * The rewriter runs the HTTP/2 session on a JS stream, which costs ~0.2 ms per call and ~0.5 ms more per large
 * answer than nghttp2 reading the socket itself; only crictl/critest v1.26 (socket path as :authority) need it,
 * kubelet sends "localhost". So berthd reads the start of the connection, up to the first header block, and
 * hands the socket to grpc-js as a native socket when that block's :authority is valid, with the bytes read so
 * far given back (Node's HTTP/2 session reads what is already buffered on the socket first: node issues #34532,
 * #35475), and to the rewriter otherwise.
 *
 * gRPC clients (grpc-go's transport) send no request before the server's connection preface (a SETTINGS frame)
 * has arrived, and Node's session, which would send it, cannot exist yet. So berthd sends an empty SETTINGS
 * frame itself as the preface (RFC 9113 section 3.4: it may be empty; it changes no setting) and waits for the
 * client's ACK of it as well as the first header block. That ACK is removed from the bytes handed on: the
 * session did not send that frame and would take a second ACK as a protocol error. The session's own SETTINGS
 * frame follows later as an ordinary settings change. A client keeps one :authority per connection (grpc-go and
 * grpc-js set it per channel), so the first block decides for the connection.
 */
import hpack from 'hpack.js';
import { FRAME_HEADER_LENGTH, MAX_HEADER_BLOCK, isValidAuthority } from './authority-rewriter.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const TYPE_HEADERS = 0x1;
const TYPE_SETTINGS = 0x4;
const TYPE_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const PRIORITY_LENGTH = 5;
const HEADER_TABLE_SIZE = 4096;
/** More than any client sends before its first call (preface, SETTINGS, WINDOW_UPDATE, one header block). */
const MAX_PEEK_BYTES = MAX_HEADER_BLOCK + 64 * 1024;

/** The server connection preface berthd sends at once: a SETTINGS frame with no settings, stream 0. */
export const EMPTY_SETTINGS_FRAME: Buffer = Buffer.from([0, 0, 0, TYPE_SETTINGS, 0, 0, 0, 0, 0]);

export interface PeekVerdict {
  /** The first header block's :authority is not valid (crictl v1.26): the connection needs the rewriter. */
  readonly needsRewrite: boolean;
  /** Every byte the client sent so far, but the ACK of EMPTY_SETTINGS_FRAME: the session's input, in order. */
  readonly bytes: Buffer;
}

/** Reads the start of one connection (after EMPTY_SETTINGS_FRAME was sent) until the verdict is known. */
export class AuthorityPeek {
  private buffered: Buffer = Buffer.alloc(0);
  /** Where the next unparsed frame starts in buffered. */
  private offset = 0;
  private isAckSeen = false;
  private authority: string | undefined;
  private block: Buffer[] = [];

  /**
   * Takes the next bytes from the client; returns the verdict once the first header block and the ACK are in,
   * undefined while more are needed. Throws on a connection that is not HTTP/2 as gRPC speaks it.
   */
  push(chunk: Buffer): PeekVerdict | undefined {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.buffered.length > MAX_PEEK_BYTES) throw new Error('http2: no request within the first bytes');
    if (this.offset === 0) {
      if (this.buffered.length < PREFACE.length) return undefined;
      if (!this.buffered.subarray(0, PREFACE.length).equals(PREFACE)) throw new Error('http2: bad client preface');
      this.offset = PREFACE.length;
    }
    while (!this.isDecided() && this.buffered.length - this.offset >= FRAME_HEADER_LENGTH) {
      const total = FRAME_HEADER_LENGTH + this.buffered.readUIntBE(this.offset, 3);
      if (this.buffered.length - this.offset < total) break;
      this.onFrame(this.offset, total);
    }
    if (!this.isDecided()) return undefined;
    return { needsRewrite: !isValidAuthority(this.authority ?? ''), bytes: this.buffered };
  }

  private isDecided(): boolean {
    return this.isAckSeen && this.authority !== undefined;
  }

  private onFrame(start: number, total: number): void {
    const type = this.buffered[start + 3]!;
    const flags = this.buffered[start + 4]!;
    const payload = this.buffered.subarray(start + FRAME_HEADER_LENGTH, start + total);
    if (type === TYPE_SETTINGS && flags & FLAG_ACK && !this.isAckSeen) {
      // Our SETTINGS' ACK: the first one, since the session has sent nothing yet. Cut it out.
      this.isAckSeen = true;
      this.buffered = Buffer.concat([this.buffered.subarray(0, start), this.buffered.subarray(start + total)]);
      return;
    }
    this.offset = start + total;
    if (this.authority !== undefined) return;
    if (type === TYPE_HEADERS) {
      let from = 0;
      let to = payload.length;
      if (flags & FLAG_PADDED) {
        to -= payload[0] ?? 0;
        from = 1;
      }
      if (flags & FLAG_PRIORITY) from += PRIORITY_LENGTH;
      if (to < from) throw new Error('http2: HEADERS padding exceeds the frame');
      this.block = [payload.subarray(from, to)];
    } else if (type === TYPE_CONTINUATION && this.block.length > 0) {
      this.block.push(payload);
    } else {
      return;
    }
    if (flags & FLAG_END_HEADERS) this.authority = authorityOf(Buffer.concat(this.block));
  }
}

/** The :authority of a connection's first header block ('' without one). */
function authorityOf(block: Buffer): string {
  const decoder = hpack.decompressor.create({ table: { size: HEADER_TABLE_SIZE } });
  let failure: Error | undefined;
  decoder.on('error', (err) => {
    failure = err;
  });
  decoder.write(block);
  decoder.execute();
  let authority = '';
  for (let h = decoder.read(); h !== null; h = decoder.read()) {
    if (h.name === ':authority') authority = h.value;
  }
  if (failure !== undefined) throw failure;
  return authority;
}
