// diskUsage on real filesystems: a tmpfs mounted inside the tree is not counted (du -x), and a tree the
// size of a busy writable layer is walked quickly enough for the kubelet's 10 s stats poll.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskUsage } from '../../../src/base/disk-usage.js';

const skip = process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : undefined;

describe('diskUsage on real filesystems', { skip, timeout: 60_000 }, () => {
  it('does not cross into a filesystem mounted inside the tree', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-du-mnt-'));
    const mnt = join(dir, 'mnt');
    t.after(async () => {
      spawnSync('umount', ['-l', mnt]);
      await rm(dir, { recursive: true, force: true });
    });
    await mkdir(mnt);
    await writeFile(join(dir, 'own'), Buffer.alloc(4096, 1));
    const before = await diskUsage(dir);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
    assert.equal(mounted.status, 0, `mount tmpfs: ${mounted.stderr.toString()}`);
    await writeFile(join(mnt, 'big'), Buffer.alloc(8 * 1024 * 1024, 1));
    await mkdir(join(mnt, 'sub'));
    const after = await diskUsage(dir);
    // The mount point now shows the tmpfs root (not the empty dir we made): neither it nor anything in it counts.
    const ownDir = (await lstat(dir)).blocks * 512;
    const ownFile = (await lstat(join(dir, 'own'))).blocks * 512;
    assert.deepEqual(after, { bytes: ownDir + ownFile, inodes: 2 });
    assert.ok(before.inodes === 3, 'before the mount the empty dir counted');
  });

  it('walks a layer of 5,000 files in well under a second', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-du-big-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (let d = 0; d < 50; d += 1) {
      const sub = join(dir, `d${d}`);
      await mkdir(sub);
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(sub, `f${f}`), 'x')));
    }
    const started = performance.now();
    const usage = await diskUsage(dir);
    const ms = performance.now() - started;
    assert.equal(usage.inodes, 1 + 50 + 5_000);
    assert.ok(ms < 1_000, `took ${ms.toFixed(0)} ms`);
  });
});
