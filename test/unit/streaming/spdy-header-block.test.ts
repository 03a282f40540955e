import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflate } from 'node:zlib';
import {
  HeaderCompressor,
  HeaderDecompressor,
  SPDY3_DICTIONARY,
  parseHeaders,
  serializeHeaders,
} from '../../../src/streaming/spdy/header-block.js';

function adler32(bytes: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const SYNC_FLUSH_MARKER = Buffer.from('0000ffff', 'hex');

const requests = [
  { streamtype: 'error', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
  { streamtype: 'stdin', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
  { streamtype: 'stdout', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
  { streamtype: 'stderr', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
];

describe('spdy header blocks', () => {
  it('builds the SPDY/3 dictionary (1423 bytes, Adler-32 0xe3c6a7c2 as in the spec)', () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_DICTIONARY).toString(16), 'e3c6a7c2');
    assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('hex'), '000000076f7074696f6e73'); // len 7 "options"
    assert.ok(SPDY3_DICTIONARY.toString('latin1').endsWith('enq=0.'));
  });

  it('serializes count, then 32-bit lengths, lower-cased names and NUL-joined values', () => {
    const block = serializeHeaders({ Port: '8080', accept: 'a\0b' });
    assert.equal(
      block.toString('hex'),
      '00000002' +
        '00000004' +
        '706f7274' +
        '00000004' +
        '38303830' +
        '00000006' +
        '616363657074' +
        '00000003' +
        '610062',
    );
    assert.deepEqual({ ...parseHeaders(block) }, { port: '8080', accept: 'a\0b' });
    assert.deepEqual({ ...parseHeaders(serializeHeaders({})) }, {});
  });

  it('refuses headers SPDY forbids or cannot carry', () => {
    assert.throws(() => serializeHeaders({ Connection: 'close' }), /not allowed/);
    assert.throws(() => serializeHeaders({ 'transfer-encoding': 'chunked' }), /not allowed/);
    assert.throws(() => serializeHeaders({ 'keep-alive': '1' }), /not allowed/);
    assert.throws(() => serializeHeaders({ A: '1', a: '2' }), /given twice/);
    assert.throws(() => serializeHeaders({ '': '1' }), /empty header name/);
    assert.throws(() => serializeHeaders({ a: '\0x' }), /empty NUL-separated/);
    assert.throws(() => serializeHeaders({ a: 'snow\u2603' }), /non-latin1/);
  });

  it('refuses malformed blocks', () => {
    const good = serializeHeaders({ a: 'b' });
    assert.throws(() => parseHeaders(good.subarray(0, good.length - 1)), /truncated value/);
    assert.throws(() => parseHeaders(Buffer.concat([good, Buffer.from('x')])), /after the last header/);
    assert.throws(() => parseHeaders(Buffer.from('ffffffff', 'hex')), /cannot fit/);
    const upper = Buffer.from(good);
    upper.write('A', 8, 'latin1');
    assert.throws(() => parseHeaders(upper), /not lower-case/);
    const twice = Buffer.concat([Buffer.from('00000002', 'hex'), good.subarray(4), good.subarray(4)]);
    assert.throws(() => parseHeaders(twice), /appears twice/);
  });

  it('compresses all blocks of a connection through one context, each ending on a sync flush', async () => {
    const compressor = new HeaderCompressor();
    const blocks = await Promise.all(requests.map((h) => compressor.compress(serializeHeaders(h))));
    compressor.close();
    const [first, ...rest] = blocks;
    assert.ok(first);
    // zlib header with FDICT set and the dictionary's Adler-32 as DICTID (RFC 1950).
    assert.equal(first[0], 0x78);
    assert.ok((first[1] ?? 0) & 0x20, 'FDICT flag set');
    assert.equal(first.readUInt32BE(2).toString(16), 'e3c6a7c2');
    for (const b of blocks) assert.deepEqual(b.subarray(b.length - 4), SYNC_FLUSH_MARKER);
    // Later blocks refer back to the earlier ones, so they are much smaller than the first.
    for (const b of rest) assert.ok(b.length < first.length / 2, `${b.length} vs ${first.length}`);

    const decompressor = new HeaderDecompressor();
    const decoded = [];
    for (const b of blocks) decoded.push({ ...parseHeaders(await decompressor.decompress(b)) });
    decompressor.close();
    assert.deepEqual(decoded, requests);
  });

  it('cannot decode a later block with a fresh context: the shared state is required', async () => {
    const compressor = new HeaderCompressor();
    const first = await compressor.compress(serializeHeaders(requests[0] ?? {}));
    const second = await compressor.compress(serializeHeaders(requests[1] ?? {}));
    compressor.close();
    const fresh = new HeaderDecompressor();
    await assert.rejects(fresh.decompress(second), /header decompression/);
    // And a failed context stays failed, so the session must close the connection.
    await assert.rejects(fresh.decompress(first), /header decompression/);
    fresh.close();
  });

  it('decodes blocks from an independent zlib deflater that uses the same dictionary and flush', async () => {
    // Stands in for Go's compress/zlib writer: a different implementation of the same context rules.
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
    const blocks: Buffer[] = [];
    for (const h of requests) {
      const out: Buffer[] = [];
      const onData = (c: Buffer): number => out.push(c);
      deflate.on('data', onData);
      deflate.write(serializeHeaders(h));
      await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
      deflate.off('data', onData);
      blocks.push(Buffer.concat(out));
    }
    deflate.destroy();
    const decompressor = new HeaderDecompressor();
    for (const [i, b] of blocks.entries()) {
      assert.deepEqual({ ...parseHeaders(await decompressor.decompress(b)) }, requests[i]);
    }
    decompressor.close();
  });

  it('refuses a block that inflates past the size limit', async () => {
    const compressor = new HeaderCompressor();
    const huge = await compressor.compress(serializeHeaders({ big: 'x'.repeat(200_000) }));
    compressor.close();
    const decompressor = new HeaderDecompressor(64 * 1024);
    await assert.rejects(decompressor.decompress(huge), /exceeds 65536 bytes/);
    decompressor.close();
  });

  it('refuses bytes that are not zlib at all', async () => {
    const decompressor = new HeaderDecompressor();
    await assert.rejects(decompressor.decompress(Buffer.from('not zlib at all')), /header decompression/);
    decompressor.close();
  });
});
