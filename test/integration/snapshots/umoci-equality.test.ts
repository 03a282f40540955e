// DESIGN.md "Correctness references": the rootfs Berth builds from an image must equal, file for file,
// what `umoci unpack` builds from the same image. One three-layer image exercising every rule of the OCI
// layer format (file and directory whiteouts, an opaque directory with entries of its own layer on both
// sides of the marker, a whiteout path recreated, overwrites, type changes, hardlinks, symlinks,
// devices, a FIFO, setuid/setgid/sticky modes, xattrs, a directory written into by a later layer
// without an entry of its own) is unpacked by umoci and by both snapshotters,
// read-only views and writable active snapshots, and the trees are compared entry by entry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../../src/base/exec.js';
import { chainIds } from '../../../src/snapshots/chain-id.js';
import { createSnapshotter } from '../../../src/snapshots/create-snapshotter.js';
import type { Snapshotter, SnapshotterKind } from '../../../src/snapshots/snapshotter.js';
import { buildImage, buildLayer, writeOciLayout } from '../../harness/oci-image.js';
import type { Layer, OciImage } from '../../harness/oci-image.js';
import { integrationSkipReason } from '../../harness/berthd.js';
import { describeTree, treeDifferences } from './tree-entries.js';

const UMOCI = '/usr/bin/umoci';
const skip = integrationSkipReason() ?? (existsSync(UMOCI) ? undefined : `${UMOCI} is missing (apt-get install umoci)`);

/** A v2 file capability (VFS_CAP_REVISION_2: cap_net_bind_service permitted + effective). */
const CAPABILITY = '\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00';

async function testImage(): Promise<OciImage> {
  const layers: Layer[] = [
    await buildLayer([
      { type: 'dir', path: 'etc', xattrs: { 'user.dir': 'on a directory' } },
      { type: 'file', path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
      { type: 'file', path: 'etc/overwritten', content: 'old' },
      { type: 'dir', path: 'data' },
      { type: 'file', path: 'data/keep.txt', content: 'keep' },
      { type: 'file', path: 'data/gone.txt', content: 'gone' },
      { type: 'dir', path: 'gonedir' },
      { type: 'dir', path: 'gonedir/sub' },
      { type: 'file', path: 'gonedir/sub/f.txt', content: 'f' },
      { type: 'dir', path: 'opaque' },
      { type: 'file', path: 'opaque/a.txt', content: 'a' },
      { type: 'dir', path: 'opaque/sub' },
      { type: 'file', path: 'opaque/sub/deep.txt', content: 'deep' },
      { type: 'dir', path: 'replace-me' },
      { type: 'file', path: 'replace-me/inner', content: 'inner' },
      { type: 'file', path: 'file-to-dir', content: 'was a file' },
      { type: 'dir', path: 'bin', mode: 0o750, gid: 10, xattrs: { 'user.bin': 'b' } },
      { type: 'file', path: 'bin/tool', content: 'tool'.repeat(1000), mode: 0o4755, uid: 1000, gid: 1000 },
      { type: 'file', path: 'bin/sgid', content: 'sgid', mode: 0o2755, gid: 50 },
      { type: 'hardlink', path: 'bin/hard', target: 'bin/tool' },
      { type: 'symlink', path: 'bin/link', target: 'tool', uid: 1000, gid: 1000 },
      { type: 'symlink', path: 'bin/abs', target: '/etc/passwd' },
      {
        type: 'file',
        path: 'bin/cap',
        content: 'cap',
        mode: 0o755,
        xattrs: { 'user.plain': 'hello', 'user.utf8': 'héllo wörld ✓', 'security.capability': CAPABILITY },
      },
      { type: 'dir', path: 'tmp', mode: 0o1777 },
      { type: 'dir', path: 'dev' },
      { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
      { type: 'blockdev', path: 'dev/loop9', major: 7, minor: 9, mode: 0o660, gid: 6 },
      { type: 'dir', path: 'run' },
      { type: 'fifo', path: 'run/fifo', mode: 0o600, uid: 33, gid: 33 },
    ]),
    await buildLayer([
      { type: 'dir', path: 'etc', xattrs: { 'user.dir': 'changed' } },
      { type: 'file', path: 'etc/overwritten', content: 'new, and longer', mode: 0o600, uid: 1, gid: 2 },
      { type: 'dir', path: 'data' },
      { type: 'file', path: 'data/.wh.gone.txt', content: '' },
      { type: 'file', path: 'data/new.txt', content: 'new' },
      { type: 'symlink', path: 'data/keep-link', target: 'keep.txt' },
      { type: 'file', path: '.wh.gonedir', content: '' },
      { type: 'dir', path: 'opaque', mode: 0o750 },
      { type: 'file', path: 'opaque/before-marker.txt', content: 'same layer, before the marker' },
      { type: 'file', path: 'opaque/.wh..wh..opq', content: '' },
      { type: 'file', path: 'opaque/c.txt', content: 'c' },
      { type: 'dir', path: 'opaque/sub' },
      { type: 'file', path: 'opaque/sub/other.txt', content: 'other' },
      { type: 'file', path: 'replace-me', content: 'a file where a directory was' },
      { type: 'dir', path: 'file-to-dir' },
      { type: 'file', path: 'file-to-dir/x', content: 'x' },
      { type: 'file', path: 'data/pair-a', content: 'pair', uid: 7 },
      { type: 'hardlink', path: 'data/pair-b', target: 'data/pair-a' },
    ]),
    await buildLayer([
      { type: 'file', path: 'top.txt', content: 'top', mode: 0o600 },
      { type: 'dir', path: 'gonedir' },
      { type: 'file', path: 'gonedir/reborn.txt', content: 'a whited-out directory made again' },
      { type: 'file', path: 'bin/.wh.sgid', content: '' },
    ]),
  ];
  return buildImage(layers);
}

async function* bytesOf(layer: Layer): AsyncIterable<Uint8Array> {
  yield layer.bytes;
}

async function unpackAll(snap: Snapshotter, image: OciImage): Promise<string> {
  const chain = chainIds(image.layers.map((l) => l.diffId));
  for (const [i, layer] of image.layers.entries()) {
    await snap.applyLayer(chain[i]!, i === 0 ? null : chain[i - 1]!, bytesOf(layer), layer.diffId);
  }
  return chain[chain.length - 1]!;
}

describe('rootfs equality with umoci unpack', { skip, timeout: 120_000 }, () => {
  for (const kind of ['overlayfs', 'native'] as const satisfies readonly SnapshotterKind[]) {
    it(`${kind}: the read-only view and a mounted active snapshot equal umoci's rootfs`, async (t) => {
      const base = await mkdtemp(join(tmpdir(), `berth-umoci-${kind}-`));
      const mounted: string[] = [];
      const snap = createSnapshotter(kind, { root: join(base, 'snapshots'), exec });
      t.after(async () => {
        for (const m of mounted.reverse()) await snap.unmount(m).catch(() => undefined);
        await rm(base, { recursive: true, force: true });
      });

      const image = await testImage();
      await writeOciLayout(join(base, 'layout'), image, 'test');
      const umoci = spawnSync(UMOCI, ['unpack', '--image', `${join(base, 'layout')}:test`, join(base, 'bundle')], {
        encoding: 'utf8',
      });
      assert.equal(umoci.status, 0, `umoci unpack failed: ${umoci.stderr}`);

      await snap.init();
      const top = await unpackAll(snap, image);
      const view = join(base, 'view');
      const rw = join(base, 'rw');
      await mkdir(view);
      await mkdir(rw);
      await snap.mountView(top, view);
      mounted.push(view);
      await snap.prepare('ctr', top);
      await snap.mountActive('ctr', rw);
      mounted.push(rw);

      // Every field of every entry, directory mtimes included: umoci keeps a directory's mtime when a
      // later layer writes into it without an entry for it, and so must both snapshotters.
      const want = await describeTree(join(base, 'bundle', 'rootfs'));
      assert.ok(want.size > 30, `umoci's rootfs has ${want.size} entries`);
      for (const [what, dir] of [
        ['read-only view', view],
        ['active snapshot', rw],
      ] as const) {
        const diffs = treeDifferences(want, await describeTree(dir));
        assert.deepEqual(diffs, [], `${kind} ${what} differs from umoci:\n${diffs.join('\n')}`);
      }
    });
  }
});
