/**
 * SPDY/3 header blocks (section 2.6.10): the name/value serialization and its zlib compression.
 *
 * The compression is per connection, not per block: each direction has ONE deflate context that lives as long as
 * the connection, primed with the SPDY/3 dictionary, and each block ends with a sync flush (Z_SYNC_FLUSH), so the
 * block can be decoded at once yet later blocks refer back to earlier ones. The receiver likewise keeps one
 * inflate context. Compressing each block with a fresh context breaks Go clients from the second block on
 * (DESIGN.md, Facts 1). Node's zlib streams are asynchronous, so both ends serialize their jobs and the session
 * keeps frame order around them.
 *
 * Serialized block: count(32) then count x { name length(32), name, value length(32), value }. Names are
 * lower-case and unique; a value may hold several values separated by NUL. Text is kept byte for byte (latin1).
 */
import { constants, createDeflate, createInflate } from 'node:zlib';
import type { Deflate, Inflate } from 'node:zlib';
import { BerthError } from '../../base/errors.js';

/** Header names and values as sent and received: lower-case names, NUL-separated multiple values. */
export type HeaderMap = Readonly<Record<string, string>>;

/**
 * Headers SPDY forbids (section 3.2.1); Go's framer also drops the connection over some of them. "host" is
 * only forbidden in requests, which Berth never sends with it anyway.
 */
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'host',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
]);

/** A decompressed block larger than this is refused (the headers Berth serves are a few hundred bytes). */
export const MAX_HEADER_BLOCK_BYTES = 1024 * 1024;

/** The words of the SPDY/3 dictionary (section 2.6.10.1), each stored with a 32-bit big-endian length prefix. */
const DICTIONARY_WORDS = Object.freeze([
  'options',
  'head',
  'post',
  'put',
  'delete',
  'trace',
  'accept',
  'accept-charset',
  'accept-encoding',
  'accept-language',
  'accept-ranges',
  'age',
  'allow',
  'authorization',
  'cache-control',
  'connection',
  'content-base',
  'content-encoding',
  'content-language',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'etag',
  'expect',
  'expires',
  'from',
  'host',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'pragma',
  'proxy-authenticate',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'server',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'vary',
  'via',
  'warning',
  'www-authenticate',
  'method',
  'get',
  'status',
  '200 OK',
  'version',
  'HTTP/1.1',
  'url',
  'public',
  'set-cookie',
  'keep-alive',
  'origin',
]);

/** ...followed by this text without length prefixes. */
const DICTIONARY_TAIL = [
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505',
  '203 Non-Authoritative Information',
  '204 No Content',
  '301 Moved Permanently',
  '400 Bad Request',
  '401 Unauthorized',
  '403 Forbidden',
  '404 Not Found',
  '500 Internal Server Error',
  '501 Not Implemented',
  '503 Service Unavailable',
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT',
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,',
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.',
].join('');

function buildDictionary(): Buffer {
  const parts: Buffer[] = [];
  for (const word of DICTIONARY_WORDS) {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(word.length, 0);
    parts.push(length, Buffer.from(word, 'latin1'));
  }
  parts.push(Buffer.from(DICTIONARY_TAIL, 'latin1'));
  return Buffer.concat(parts);
}

/** The zlib preset dictionary of SPDY/3 (1,423 bytes, Adler-32 0xe3c6a7c2). */
export const SPDY3_DICTIONARY: Buffer = buildDictionary();

function latin1(text: string, what: string): Buffer {
  // eslint-disable-next-line no-control-regex -- the check is exactly "outside latin1"
  if (/[^\u0000-\u00ff]/.test(text))
    throw new BerthError('INVALID_ARGUMENT', `spdy: ${what} has non-latin1 characters`);
  return Buffer.from(text, 'latin1');
}

/**
 * Serializes headers into an uncompressed block. Names are lower-cased; a name that is empty, duplicated after
 * lower-casing or forbidden by SPDY is refused, as is a value that begins or ends with NUL or has an empty
 * part between NULs (section 2.6.10).
 */
export function serializeHeaders(headers: HeaderMap): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [Buffer.alloc(4)];
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (name.length === 0) throw new BerthError('INVALID_ARGUMENT', 'spdy: empty header name');
    if (seen.has(name)) throw new BerthError('INVALID_ARGUMENT', `spdy: header "${name}" given twice`);
    if (FORBIDDEN_HEADERS.has(name)) throw new BerthError('INVALID_ARGUMENT', `spdy: header "${name}" is not allowed`);
    if (value.length > 0 && value.split('\0').some((v) => v.length === 0)) {
      throw new BerthError('INVALID_ARGUMENT', `spdy: header "${name}" has an empty NUL-separated value`);
    }
    seen.add(name);
    const nameBytes = latin1(name, `header name "${name}"`);
    const valueBytes = latin1(value, `header "${name}"`);
    const nameLength = Buffer.allocUnsafe(4);
    nameLength.writeUInt32BE(nameBytes.length, 0);
    const valueLength = Buffer.allocUnsafe(4);
    valueLength.writeUInt32BE(valueBytes.length, 0);
    parts.push(nameLength, nameBytes, valueLength, valueBytes);
  }
  const [count] = parts;
  count?.writeUInt32BE(seen.size, 0);
  return Buffer.concat(parts);
}

/**
 * Parses an uncompressed block. Throws BerthError INVALID_ARGUMENT for a malformed block, which the session turns
 * into a stream error (RST_STREAM PROTOCOL_ERROR): the zlib context is intact, so the connection survives.
 */
export function parseHeaders(block: Buffer): Record<string, string> {
  const fail = (why: string): never => {
    throw new BerthError('INVALID_ARGUMENT', `spdy: header block: ${why}`);
  };
  if (block.length < 4) fail(`${block.length} bytes, too short for the count`);
  const count = block.readUInt32BE(0);
  // Each pair takes at least 8 bytes: refuse absurd counts before looping.
  if (count > (block.length - 4) / 8) fail(`${count} pairs cannot fit in ${block.length} bytes`);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let offset = 4;
  const field = (what: string): Buffer => {
    if (offset + 4 > block.length) fail(`truncated ${what} length`);
    const length = block.readUInt32BE(offset);
    offset += 4;
    if (offset + length > block.length) fail(`truncated ${what}`);
    const bytes = block.subarray(offset, offset + length);
    offset += length;
    return bytes;
  };
  for (let i = 0; i < count; i++) {
    const name = field('name').toString('latin1');
    const value = field('value').toString('latin1');
    if (name.length === 0) fail('empty header name');
    if (name !== name.toLowerCase()) fail(`header name "${name}" is not lower-case`);
    if (Object.hasOwn(headers, name)) fail(`header "${name}" appears twice`);
    headers[name] = value;
  }
  if (offset !== block.length) fail(`${block.length - offset} bytes after the last header`);
  return headers;
}

interface ZlibJob {
  readonly input: Buffer;
  readonly resolve: (output: Buffer) => void;
  readonly reject: (err: Error) => void;
}

/**
 * One long-lived zlib stream used one block at a time: write a block (every write is sync-flushed), collect the
 * 'data' the stream emits for it, and hand that over when the write completes. Jobs run strictly in call order,
 * so the bytes of consecutive blocks never mix. After an error every current and later job fails.
 */
class ZlibContext {
  private readonly queue: ZlibJob[] = [];
  private output: Buffer[] = [];
  private outputBytes = 0;
  private isBusy = false;
  private failure: Error | null = null;

  constructor(
    private readonly zstream: Deflate | Inflate,
    private readonly what: string,
    private readonly maxOutputBytes: number,
  ) {
    zstream.on('data', (chunk: Buffer) => {
      this.output.push(chunk);
      this.outputBytes += chunk.length;
      if (this.outputBytes > this.maxOutputBytes) {
        this.fail(new BerthError('RESOURCE_EXHAUSTED', `spdy: ${what} block exceeds ${this.maxOutputBytes} bytes`));
      }
    });
    zstream.on('error', (err: Error) => this.fail(new BerthError('INVALID_ARGUMENT', `spdy: ${what}: ${err.message}`)));
  }

  run(input: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.queue.push({ input, resolve, reject });
      this.startNext();
    });
  }

  close(): void {
    this.fail(new BerthError('UNAVAILABLE', `spdy: ${this.what} context closed`));
  }

  private startNext(): void {
    const job = this.queue[0];
    if (this.isBusy || job === undefined || this.failure) return;
    this.isBusy = true;
    this.zstream.write(job.input, (err) => {
      if (this.failure || this.queue[0] !== job) return; // fail() already settled it
      if (err) {
        this.fail(new BerthError('INVALID_ARGUMENT', `spdy: ${this.what}: ${err.message}`));
        return;
      }
      this.queue.shift();
      const out = Buffer.concat(this.output, this.outputBytes);
      this.output = [];
      this.outputBytes = 0;
      this.isBusy = false;
      job.resolve(out);
      this.startNext();
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.output = [];
    for (const job of this.queue.splice(0)) job.reject(err);
    this.zstream.destroy();
  }
}

/** The sending half: one deflate context per connection. */
export class HeaderCompressor {
  private readonly context = new ZlibContext(
    createDeflate({ dictionary: SPDY3_DICTIONARY, flush: constants.Z_SYNC_FLUSH }),
    'header compression',
    Number.MAX_SAFE_INTEGER,
  );

  /** Compresses one serialized block; the result ends on a sync flush and depends on every earlier block. */
  compress(block: Buffer): Promise<Buffer> {
    return this.context.run(block);
  }

  close(): void {
    this.context.close();
  }
}

/** The receiving half: one inflate context per connection, fed every compressed block in arrival order. */
export class HeaderDecompressor {
  private readonly context: ZlibContext;

  constructor(maxBlockBytes: number = MAX_HEADER_BLOCK_BYTES) {
    this.context = new ZlibContext(
      createInflate({ dictionary: SPDY3_DICTIONARY, flush: constants.Z_SYNC_FLUSH }),
      'header decompression',
      maxBlockBytes,
    );
  }

  /** Rejects (and stays failed) if the bytes do not continue the peer's zlib stream. */
  decompress(compressed: Buffer): Promise<Buffer> {
    return this.context.run(compressed);
  }

  close(): void {
    this.context.close();
  }
}
