import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskUsage } from '../../../src/base/disk-usage.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-du-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What `du -x --inodes` and `du -xB1` would say, from lstat of the paths we made. */
async function expected(paths: string[]): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  for (const p of paths) bytes += (await lstat(p)).blocks * 512;
  return { bytes, inodes: paths.length };
}

describe('diskUsage', () => {
  it('counts blocks and inodes, hardlinks once, symlinks as links', () =>
    withDir(async (dir) => {
      const top = join(dir, 'layer');
      await mkdir(join(top, 'a', 'b'), { recursive: true });
      await writeFile(join(top, 'a', 'big'), Buffer.alloc(256 * 1024, 1));
      await writeFile(join(top, 'a', 'b', 'small'), 'x');
      await link(join(top, 'a', 'big'), join(top, 'hard'));
      await symlink('/etc', join(top, 'etc-link'));
      const want = await expected([
        top,
        join(top, 'a'),
        join(top, 'a', 'b'),
        join(top, 'a', 'big'),
        join(top, 'a', 'b', 'small'),
        join(top, 'etc-link'),
      ]);
      assert.deepEqual(await diskUsage(top), want);
      assert.ok(want.bytes >= 256 * 1024, 'the big file is allocated');
    }));

  it('counts files with non-UTF-8 names', () =>
    withDir(async (dir) => {
      const name = Buffer.concat([Buffer.from(join(dir, 'f-')), Buffer.from([0xff, 0xfe])]);
      await writeFile(name, Buffer.alloc(8192, 1));
      const usage = await diskUsage(dir);
      assert.equal(usage.inodes, 2);
      assert.equal(usage.bytes, (await lstat(dir)).blocks * 512 + (await lstat(name)).blocks * 512);
    }));

  it('counts a single file, and refuses a missing directory with NOT_FOUND', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'f'), 'x');
      assert.deepEqual(await diskUsage(join(dir, 'f')), await expected([join(dir, 'f')]));
      await assert.rejects(
        diskUsage(join(dir, 'nope')),
        (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND',
      );
    }));

  it('stops when aborted', () =>
    withDir(async (dir) => {
      await mkdir(join(dir, 'a'));
      await assert.rejects(diskUsage(dir, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    }));
});
