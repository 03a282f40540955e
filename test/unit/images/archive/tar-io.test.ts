// The tar plumbing under image archives: path checks, symlink resolution, gzip detection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { archivePath, maybeGunzip, resolveLink, sniffCompression } from '../../../../src/images/archive/tar-io.js';

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

async function* bytewise(buf: Buffer): AsyncIterable<Uint8Array> {
  for (const b of buf) yield Buffer.from([b]);
}

describe('archive tar plumbing', () => {
  it('normalises entry names and refuses escapes', () => {
    assert.equal(archivePath('./a//b/', 'x'), 'a/b');
    assert.equal(archivePath('manifest.json', 'x'), 'manifest.json');
    assert.equal(archivePath('./', 'x'), '');
    assert.throws(() => archivePath('a/../../b', 'x'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => archivePath('a/..', 'x'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => archivePath('/abs', 'x'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => archivePath('a\0b', 'x'), { code: 'INVALID_ARGUMENT' });
  });

  it('resolves symlinks relative to their directory, never above the root', () => {
    assert.equal(resolveLink('abc/layer.tar', '../def/layer.tar', 'x'), 'def/layer.tar');
    assert.equal(resolveLink('abc/layer.tar', '../d.tar', 'x'), 'd.tar');
    assert.equal(resolveLink('l', './f', 'x'), 'f');
    assert.throws(() => resolveLink('abc/layer.tar', '../../etc/passwd', 'x'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => resolveLink('l', '/etc/passwd', 'x'), { code: 'INVALID_ARGUMENT' });
  });

  it('sniffs gzip and zstd magic', () => {
    assert.equal(sniffCompression(gzipSync(Buffer.from('x'))), 'gzip');
    assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
    assert.equal(sniffCompression(Buffer.from('ustar')), 'none');
    assert.equal(sniffCompression(Buffer.alloc(0)), 'none');
  });

  it('gunzips only gzip input, even when it arrives one byte at a time', async () => {
    const plain = Buffer.from('hello archive\n'.repeat(100));
    assert.deepEqual(await collect(maybeGunzip(bytewise(gzipSync(plain)))), plain);
    assert.deepEqual(await collect(maybeGunzip(bytewise(plain))), plain);
    assert.deepEqual(await collect(maybeGunzip(bytewise(Buffer.from([0x1f])))), Buffer.from([0x1f]));
    assert.deepEqual(await collect(maybeGunzip(bytewise(Buffer.alloc(0)))), Buffer.alloc(0));
    await assert.rejects(collect(maybeGunzip(bytewise(Buffer.from([0x1f, 0x8b, 9, 9, 9])))));
  });

  it('closes the source when the reader stops early', async () => {
    let isClosed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Buffer.from('data');
      } finally {
        isClosed = true;
      }
    }
    for await (const chunk of maybeGunzip(source())) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.ok(isClosed);
  });
});
