import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decompressLayer, sniffCompression } from '../../../src/snapshots/layer-decompress.js';

// 100 lines "line N of a zstd test layer\n" compressed by zstd 1.5.4 -19 (Node 20 has no zstd encoder).
const ZSTD_FRAME = Buffer.from(
  'KLUv/WRKCkUEAPLHFRSgqQ2xp9Qbpx0AzmV3d++k50erFbu7u7u7qqqqqqqZmZmZmYiIiIiId3d3d3dmZmZmZlVVVVVV////v23btr2aeFY3kBxGMGhRzkLDojQkEIFQQOcojGSoEeDv/xnQU3kRJAT/JwQeP0GURFGwJEl2JCIrJCD7Ix7bEY4ic5jjyTo8QKq6CoEp',
  'base64',
);
const PLAIN = Buffer.from(Array.from({ length: 100 }, (_, i) => `line ${i} of a zstd test layer\n`).join(''));

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of decompressLayer(source, 'sha256:test')) out.push(chunk);
  return Buffer.concat(out);
}

describe('layer decompression', () => {
  it('sniffs the format from magic bytes', () => {
    assert.equal(sniffCompression(gzipSync(PLAIN)), 'gzip');
    assert.equal(sniffCompression(ZSTD_FRAME), 'zstd');
    assert.equal(sniffCompression(PLAIN), 'none');
  });

  for (const size of [1, 3, 1000]) {
    it(`decodes gzip, zstd and plain layers fed in ${size}-byte chunks`, async () => {
      assert.deepEqual(await collect(chunked(gzipSync(PLAIN), size)), PLAIN);
      assert.deepEqual(await collect(chunked(ZSTD_FRAME, size)), PLAIN);
      assert.deepEqual(await collect(chunked(PLAIN, size)), PLAIN);
    });
  }

  it('an empty source yields nothing', async () => {
    assert.equal((await collect(chunked(Buffer.alloc(0), 1))).length, 0);
  });

  it('corrupt compressed data is INVALID_ARGUMENT naming the layer', async () => {
    const badZstd = Buffer.concat([ZSTD_FRAME.subarray(0, 8), Buffer.alloc(64, 0xff)]);
    const badGzip = Buffer.concat([gzipSync(PLAIN).subarray(0, 10), Buffer.alloc(64, 0xff)]);
    for (const bad of [badZstd, badGzip]) {
      await assert.rejects(collect(chunked(bad, 16)), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /layer sha256:test: bad (zstd|gzip) data/);
        return true;
      });
    }
  });
});
