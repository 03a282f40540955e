import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tar from 'tar-stream';
import { headerSize, parsePaxRecords, PaxXattrTap } from '../../../src/snapshots/pax-xattrs.js';
import { headerBlock, paxRecord, SETUID_CAP, tarWithBinaryXattrs } from '../../harness/raw-tar.js';

describe('raw pax xattrs', () => {
  it('parses records by byte length, values as raw bytes', () => {
    const data = Buffer.concat([
      paxRecord('SCHILY.xattr.a', Buffer.from([0xff, 0x00, 0x80])),
      paxRecord('path', Buffer.from('x')),
    ]);
    const records = parsePaxRecords(data);
    assert.deepEqual(records.get('SCHILY.xattr.a'), Buffer.from([0xff, 0x00, 0x80]));
    assert.deepEqual(records.get('path'), Buffer.from('x'));
  });

  it('reads octal and base-256 sizes', () => {
    assert.equal(headerSize(headerBlock('f', '0', 0o1234)), 0o1234);
    const big = headerBlock('f', '0', 0);
    big.fill(0, 124, 136);
    big[124] = 0x80;
    big.writeUIntBE(2 ** 40, 130, 6);
    assert.equal(headerSize(big), 2 ** 40);
  });

  for (const chunkSize of [1, 7, 512, 100_000]) {
    it(`keeps each entry's xattrs byte for byte, in entry order (${chunkSize}-byte chunks)`, () => {
      const archive = tarWithBinaryXattrs(SETUID_CAP);
      const tap = new PaxXattrTap();
      for (let i = 0; i < archive.length; i += chunkSize) tap.push(archive.subarray(i, i + chunkSize));
      const first = tap.next();
      assert.deepEqual(first.get('security.capability'), SETUID_CAP);
      assert.equal(first.get('user.note')?.toString('utf8'), 'héllo ✓');
      assert.equal(tap.next().size, 0, 'the directory has none');
      assert.equal(tap.next().size, 0, 'the symlink has none');
      assert.equal(tap.next().size, 0, 'the plain file has none');
    });
  }

  it('stays in step with tar-stream on its own archives (pax written by tar-stream)', async () => {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
    })();
    pack.entry({ name: 'a', pax: { 'SCHILY.xattr.user.x': '1' } }, 'aaaa');
    pack.entry({ name: 'd/', type: 'directory' });
    pack.entry({ name: `long/${'n'.repeat(150)}`, pax: { 'SCHILY.xattr.user.y': 'two' } }, 'bb');
    pack.finalize();
    await done;
    const tap = new PaxXattrTap();
    tap.push(Buffer.concat(chunks));
    assert.equal(tap.next().get('user.x')?.toString(), '1');
    assert.equal(tap.next().size, 0);
    assert.equal(tap.next().get('user.y')?.toString(), 'two');
  });
});
