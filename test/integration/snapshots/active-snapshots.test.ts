// Conformance of both snapshotters for container root filesystems (STYLE 14: one suite per interface
// with two implementations): prepare, mount writable, write, unmount, committed layers unchanged; a new
// instance finds the active snapshot again; used layers cannot be removed; nothing is deleted through a
// mount; usage counts each inode once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../../src/base/exec.js';
import { chainIds } from '../../../src/snapshots/chain-id.js';
import { createSnapshotter } from '../../../src/snapshots/create-snapshotter.js';
import type { Snapshotter, SnapshotterKind } from '../../../src/snapshots/snapshotter.js';
import { buildLayer } from '../../harness/oci-image.js';
import type { Layer } from '../../harness/oci-image.js';
import { integrationSkipReason } from '../../harness/berthd.js';
import { describeTree, treeDifferences } from './tree-entries.js';

const skip = integrationSkipReason();

async function* bytesOf(layer: Layer): AsyncIterable<Uint8Array> {
  yield layer.bytes;
}

async function twoLayers(snap: Snapshotter): Promise<string[]> {
  const layers = [
    await buildLayer([
      { type: 'dir', path: 'etc' },
      { type: 'file', path: 'etc/hostname', content: 'image' },
      { type: 'file', path: 'etc/gone', content: 'gone' },
    ]),
    await buildLayer([
      { type: 'file', path: 'etc/.wh.gone', content: '' },
      { type: 'file', path: 'app', content: 'app', mode: 0o755 },
    ]),
  ];
  const chain = chainIds(layers.map((l) => l.diffId));
  for (const [i, layer] of layers.entries()) {
    await snap.applyLayer(chain[i]!, i === 0 ? null : chain[i - 1]!, bytesOf(layer), layer.diffId);
  }
  return chain;
}

for (const kind of ['overlayfs', 'native'] as const satisfies readonly SnapshotterKind[]) {
  describe(`${kind} snapshotter: active snapshots`, { skip, timeout: 60_000 }, () => {
    const setup = async (t: { after: (fn: () => Promise<void>) => void }) => {
      const base = await mkdtemp(join(tmpdir(), `berth-active-${kind}-`));
      const root = join(base, 'snapshots');
      const mounted = new Set<string>();
      const snap = createSnapshotter(kind, { root, exec });
      t.after(async () => {
        for (const m of mounted) spawnSync('umount', [m]);
        await rm(base, { recursive: true, force: true });
      });
      await snap.init();
      const mount = async (s: Snapshotter, key: string, name: string): Promise<string> => {
        const target = join(base, name);
        await mkdir(target, { recursive: true });
        await s.mountActive(key, target);
        mounted.add(target);
        return target;
      };
      const unmount = async (s: Snapshotter, target: string): Promise<void> => {
        await s.unmount(target);
        mounted.delete(target);
      };
      return { base, root, snap, mount, unmount, mounted };
    };

    it('writes go to the active snapshot only, and it survives a restart', async (t) => {
      const { base, root, snap, mount, unmount } = await setup(t);
      const chain = await twoLayers(snap);
      const viewDir = join(base, 'view');
      await mkdir(viewDir);
      await snap.mountView(chain[1]!, viewDir);
      const before = await describeTree(viewDir);
      await snap.unmount(viewDir);

      const info = await snap.prepare('ctr/1 with any chars: ../..', chain[1]!);
      assert.equal(info.parent, chain[1]);
      assert.deepEqual(
        snap.listActive().map((a) => a.key),
        ['ctr/1 with any chars: ../..'],
      );
      await assert.rejects(snap.prepare('ctr/1 with any chars: ../..', chain[1]!), { code: 'ALREADY_EXISTS' });
      await assert.rejects(snap.prepare('other', 'sha256:unknown'), { code: 'NOT_FOUND' });
      await assert.rejects(snap.prepare('x'.repeat(257), null), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(snap.prepare('', null), { code: 'INVALID_ARGUMENT' });

      const rootfs = await mount(snap, 'ctr/1 with any chars: ../..', 'rootfs');
      assert.equal(await readFile(join(rootfs, 'etc/hostname'), 'utf8'), 'image');
      assert.deepEqual(await readdir(join(rootfs, 'etc')), ['hostname'], 'the whiteout hides etc/gone');
      await writeFile(join(rootfs, 'etc/hostname'), 'container');
      await writeFile(join(rootfs, 'new.txt'), 'x'.repeat(10_000));
      await rm(join(rootfs, 'app'));
      await unmount(snap, rootfs);

      await snap.mountView(chain[1]!, viewDir);
      const after = await describeTree(viewDir);
      await snap.unmount(viewDir);
      assert.deepEqual(treeDifferences(before, after), [], 'committed layers unchanged');

      // A new instance (berthd restart) finds the snapshot and its writes again.
      const again = createSnapshotter(kind, { root, exec });
      await again.init();
      assert.deepEqual(again.listActive(), snap.listActive());
      assert.ok(again.hasLayer(chain[1]!));
      const remounted = await mount(again, 'ctr/1 with any chars: ../..', 'rootfs2');
      assert.equal(await readFile(join(remounted, 'etc/hostname'), 'utf8'), 'container');
      assert.equal((await stat(join(remounted, 'new.txt'))).size, 10_000);
      await assert.rejects(stat(join(remounted, 'app')), { code: 'ENOENT' });

      // The writable part holds the new file; the store holds at least that much more.
      const own = await again.usageOf('ctr/1 with any chars: ../..');
      assert.ok(own.bytes >= 10_000, `usageOf counts the new file: ${own.bytes}`);
      assert.ok(own.inodes >= 2);
      await assert.rejects(again.usageOf('missing'), { code: 'NOT_FOUND' });

      // Layers in use stay: the parent of the active snapshot, and the parent of a child layer.
      await assert.rejects(again.remove(chain[1]!), { code: 'FAILED_PRECONDITION', message: /active snapshot/ });
      await assert.rejects(again.remove(chain[0]!), { code: 'FAILED_PRECONDITION', message: /child layer/ });

      await t.test('removing refuses while something is mounted inside, then removes', async () => {
        const record = (await readdir(join(root, 'active')))[0]!;
        const inside = join(root, 'active', record, 'fs', 'etc');
        const hostDir = join(base, 'host-dir');
        await mkdir(hostDir);
        await writeFile(join(hostDir, 'canary'), 'must survive');
        await mkdir(inside, { recursive: true });
        const res = spawnSync('mount', ['--bind', hostDir, inside]);
        assert.equal(res.status, 0, res.stderr.toString());
        try {
          await assert.rejects(again.removeActive('ctr/1 with any chars: ../..'), {
            code: 'FAILED_PRECONDITION',
            message: /mounted/,
          });
        } finally {
          spawnSync('umount', [inside]);
        }
        assert.equal(await readFile(join(hostDir, 'canary'), 'utf8'), 'must survive');
        assert.equal(again.listActive().length, 1);
      });

      await unmount(again, remounted);
      await again.removeActive('ctr/1 with any chars: ../..');
      await again.removeActive('ctr/1 with any chars: ../..'); // idempotent
      assert.deepEqual(again.listActive(), []);
      assert.deepEqual(await readdir(join(root, 'active')), []);
      await again.remove(chain[1]!);
      await again.remove(chain[0]!);
      assert.deepEqual(again.list(), []);
    });

    it('an active snapshot without a parent is an empty writable root', async (t) => {
      const { snap, mount, unmount } = await setup(t);
      await snap.prepare('scratch', null);
      const rootfs = await mount(snap, 'scratch', 'scratch');
      assert.deepEqual(await readdir(rootfs), []);
      await writeFile(join(rootfs, 'f'), 'f');
      await unmount(snap, rootfs);
      assert.ok((await snap.usageOf('scratch')).inodes >= 2);
      await snap.removeActive('scratch');
    });

    it('usage counts every inode of the store once, hardlinks too', async (t) => {
      const { root, snap } = await setup(t);
      const empty = await snap.usage();
      const layer = await buildLayer([
        { type: 'file', path: 'big', content: 'b'.repeat(64 * 1024) },
        { type: 'hardlink', path: 'big-link', target: 'big' },
      ]);
      await snap.applyLayer(layer.diffId, null, bytesOf(layer), layer.diffId);
      const one = await snap.usage();
      // New inodes: layers/<n>, its meta.json, fs/, and ONE inode for big + big-link.
      assert.equal(one.inodes - empty.inodes, 4);
      assert.ok(one.bytes - empty.bytes >= 64 * 1024 && one.bytes - empty.bytes < 2 * 64 * 1024, `${one.bytes}`);
      // A hardlink made outside the applier is counted once as well.
      const fs = join(root, 'layers', (await readdir(join(root, 'layers')))[0]!, 'fs');
      await link(join(fs, 'big'), join(fs, 'third-link'));
      assert.deepEqual(await snap.usage(), one);
    });
  });
}
