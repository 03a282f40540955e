// The layer applier on real files (root): types, ownership, modes, times, xattrs, whiteouts in overlay
// form, gzip, DiffID, and hostile layers that must fail without touching anything outside.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { getAttribute } from 'fs-xattr';
import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { exec } from '../../../src/base/exec.js';
import { applyLayer } from '../../../src/snapshots/layer-apply.js';
import { integrationSkipReason } from '../../harness/berthd.js';
import { SETUID_CAP, tarWithBinaryXattrs } from '../../harness/raw-tar.js';

const skip = integrationSkipReason();
const ZSTD_BIN = '/usr/bin/zstd';
const zstdSkip = existsSync(ZSTD_BIN) ? false : `${ZSTD_BIN} is missing (package zstd)`;
const MTIME = new Date('2024-01-02T03:04:05Z');

type Entry = Partial<Header> & { readonly name: string; readonly content?: string };

async function tarOf(entries: readonly Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const { content, ...header } = e;
    await new Promise<void>((resolve, reject) =>
      pack.entry({ mtime: MTIME, uid: 0, gid: 0, ...header }, content ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function* once(buf: Buffer): AsyncIterable<Uint8Array> {
  yield buf;
}

async function withDirs(fn: (root: string, outside: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'berth-apply-'));
  const root = join(base, 'layer');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'canary'), 'untouched');
  try {
    await fn(root, outside);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

const apply = (buf: Buffer, root: string) => applyLayer(once(buf), root, { exec, layer: 'test' });

describe('layer applier', { skip, timeout: 60_000 }, () => {
  it('creates every entry type with ownership, modes, times and xattrs; DiffID of the tar', () =>
    withDirs(async (root) => {
      const tarBytes = await tarOf([
        { name: 'bin/', type: 'directory', mode: 0o755 },
        { name: 'bin/tool', type: 'file', mode: 0o4755, uid: 1000, gid: 1000, content: 'x'.repeat(3000) },
        { name: 'bin/sgid', type: 'file', mode: 0o2755, content: 'g' },
        { name: 'tmp/', type: 'directory', mode: 0o1777 },
        { name: 'bin/link', type: 'symlink', linkname: 'tool', uid: 1000, gid: 1000 },
        { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
        { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
        { name: 'run/fifo', type: 'fifo', mode: 0o600 },
        {
          name: 'bin/cap',
          type: 'file',
          mode: 0o755,
          content: 'c',
          pax: {
            'SCHILY.xattr.user.test': 'hello',
            'SCHILY.xattr.security.capability':
              '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00',
          },
        },
      ]);
      const { diffId } = await apply(gzipSync(tarBytes), root);
      assert.equal(diffId, `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);

      const tool = await stat(join(root, 'bin/tool'));
      assert.equal(tool.mode & 0o7777, 0o4755, 'setuid kept after chown');
      assert.equal(tool.uid, 1000);
      assert.equal(tool.size, 3000);
      assert.equal(tool.mtime.getTime(), MTIME.getTime());
      assert.equal((await stat(join(root, 'bin/sgid'))).mode & 0o7777, 0o2755);
      assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
      assert.equal((await stat(join(root, 'bin'))).mtime.getTime(), MTIME.getTime(), 'dir mtime set after its entries');
      const link = await lstat(join(root, 'bin/link'));
      assert.ok(link.isSymbolicLink());
      assert.equal(link.uid, 1000);
      assert.equal(await readlink(join(root, 'bin/link')), 'tool');
      assert.equal((await stat(join(root, 'bin/hard'))).ino, tool.ino);
      const dev = await lstat(join(root, 'dev/null'));
      assert.ok(dev.isCharacterDevice());
      assert.equal(dev.rdev, (1 << 8) | 3);
      assert.ok((await lstat(join(root, 'run/fifo'))).isFIFO());
      assert.equal((await getAttribute(join(root, 'bin/cap'), 'user.test')).toString(), 'hello');
      assert.equal((await getAttribute(join(root, 'bin/cap'), 'security.capability')).length, 20);
    }));

  it('turns OCI whiteouts into overlay whiteouts and opaque markers into trusted.overlay.opaque', () =>
    withDirs(async (root) => {
      await apply(
        await tarOf([
          { name: 'data/', type: 'directory' },
          { name: 'data/.wh.gone.txt', type: 'file' },
          { name: 'opaque/', type: 'directory' },
          { name: 'opaque/.wh..wh..opq', type: 'file' },
          { name: 'opaque/c.txt', type: 'file', content: 'c' },
        ]),
        root,
      );
      const wh = await lstat(join(root, 'data/gone.txt'));
      assert.ok(wh.isCharacterDevice());
      assert.equal(wh.rdev, 0);
      assert.deepEqual((await readdir(join(root, 'data'))).sort(), ['gone.txt']);
      assert.equal((await getAttribute(join(root, 'opaque'), 'trusted.overlay.opaque')).toString(), 'y');
      assert.deepEqual(await readdir(join(root, 'opaque')), ['c.txt']);
    }));

  const HOSTILE: [string, Entry[]][] = [
    ['a ".." name', [{ name: '../evil', type: 'file', content: 'x' }]],
    ['a ".." inside the path', [{ name: 'a/../../evil', type: 'file', content: 'x' }]],
    ['an absolute path with ".."', [{ name: '/abs/../../evil', type: 'file', content: 'x' }]],
    [
      'a file through a symlink to /',
      [
        { name: 's', type: 'symlink', linkname: '/' },
        { name: 's/evil', type: 'file', content: 'x' },
      ],
    ],
    [
      'a file through a symlink to ..',
      [
        { name: 's', type: 'symlink', linkname: '..' },
        { name: 's/outside/evil', type: 'file', content: 'x' },
      ],
    ],
    ['a hardlink to ../../etc/passwd', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
    [
      'a hardlink through a symlink',
      [
        { name: 's', type: 'symlink', linkname: '/etc' },
        { name: 'h', type: 'link', linkname: 's/passwd' },
      ],
    ],
    [
      'a symlink replacing a directory the layer made, then a file through it',
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/outside/', type: 'directory' },
        { name: 'a', type: 'symlink', linkname: '..' },
        { name: 'a/outside/evil', type: 'file', content: 'x' },
      ],
    ],
    [
      'a whiteout of a directory the layer made, a symlink in its place, then a file through it',
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/outside/', type: 'directory' },
        { name: '.wh.a', type: 'file' },
        { name: 'a', type: 'symlink', linkname: '..' },
        { name: 'a/outside/evil', type: 'file', content: 'x' },
      ],
    ],
    ['a whiteout of ".."', [{ name: 'a/.wh...', type: 'file' }]],
    ['a whiteout with ".." path', [{ name: '../.wh.x', type: 'file' }]],
  ];
  for (const [what, entries] of HOSTILE) {
    it(`refuses ${what} with INVALID_ARGUMENT and touches nothing outside`, () =>
      withDirs(async (root, outside) => {
        await assert.rejects(apply(await tarOf(entries), root), { code: 'INVALID_ARGUMENT' });
        assert.deepEqual(await readdir(outside), ['canary']);
        assert.equal(await readFile(join(outside, 'canary'), 'utf8'), 'untouched');
        await assert.rejects(stat('/evil'), { code: 'ENOENT' });
        await assert.rejects(stat(join(root, '..', 'evil')), { code: 'ENOENT' });
      }));
  }

  it('applies a zstd layer (made by the zstd tool), with the DiffID of the tar inside', { skip: zstdSkip }, () =>
    withDirs(async (root) => {
      const tarBytes = await tarOf([
        { name: 'etc/', type: 'directory', mode: 0o755 },
        { name: 'etc/motd', type: 'file', mode: 0o644, content: 'zstd layer\n' },
      ]);
      const zstd = execFileSync(ZSTD_BIN, ['-q', '-c'], { input: tarBytes });
      const { diffId } = await apply(zstd, root);
      assert.equal(diffId, `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);
      assert.equal(await readFile(join(root, 'etc/motd'), 'utf8'), 'zstd layer\n');
    }),
  );

  it('sets xattr values byte for byte, also ones that are not UTF-8 (security.capability)', () =>
    withDirs(async (root) => {
      await apply(tarWithBinaryXattrs(SETUID_CAP), root);
      assert.deepEqual(await getAttribute(join(root, 'bin/ping'), 'security.capability'), SETUID_CAP);
      assert.equal((await getAttribute(join(root, 'bin/ping'), 'user.note')).toString('utf8'), 'héllo ✓');
      assert.equal(await readFile(join(root, 'etc/plain'), 'utf8'), 'abc');
    }));
});
