// The overlayfs snapshotter with real mounts: three layers with a whiteout and an opaque dir, applied
// once per chain ID, mounted as the view a container would see; DiffID mismatches leave nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../../src/base/exec.js';
import { chainIds, OverlaySnapshotter } from '../../../src/snapshots/index.js';
import { buildLayer } from '../../harness/oci-image.js';
import type { Layer } from '../../harness/oci-image.js';
import { integrationSkipReason } from '../../harness/berthd.js';

const skip = integrationSkipReason();

async function* bytesOf(layer: Layer): AsyncIterable<Uint8Array> {
  yield layer.bytes;
}

async function layers(): Promise<Layer[]> {
  return Promise.all([
    buildLayer([
      { type: 'dir', path: 'data' },
      { type: 'file', path: 'data/keep.txt', content: 'keep' },
      { type: 'file', path: 'data/gone.txt', content: 'gone' },
      { type: 'dir', path: 'opaque' },
      { type: 'file', path: 'opaque/a.txt', content: 'a' },
    ]),
    buildLayer([
      { type: 'dir', path: 'data' },
      { type: 'file', path: 'data/.wh.gone.txt', content: '' },
      { type: 'dir', path: 'opaque' },
      { type: 'file', path: 'opaque/.wh..wh..opq', content: '' },
      { type: 'file', path: 'opaque/c.txt', content: 'c' },
    ]),
    buildLayer([{ type: 'file', path: 'top.txt', content: 'top', mode: 0o600 }]),
  ]);
}

describe('overlay snapshotter', { skip, timeout: 60_000 }, () => {
  it('applies each chain ID once and mounts the merged view', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'berth-snap-'));
    const target = join(base, 'mnt');
    await mkdir(target);
    let isMounted = false;
    const snap = new OverlaySnapshotter({ root: join(base, 'snapshots'), exec });
    t.after(async () => {
      if (isMounted) await snap.unmount(target).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    });
    await snap.init();
    const ls = await layers();
    const chain = chainIds(ls.map((l) => l.diffId));
    assert.equal(chain[0], ls[0]!.diffId);
    for (const [i, layer] of ls.entries()) {
      const parent = i === 0 ? null : chain[i - 1]!;
      // Two concurrent applies of one chain ID apply it once.
      await Promise.all([
        snap.applyLayer(chain[i]!, parent, bytesOf(layer), layer.diffId),
        snap.applyLayer(chain[i]!, parent, bytesOf(layer), layer.diffId),
      ]);
    }
    assert.equal((await readdir(join(base, 'snapshots', 'layers'))).length, 3);
    assert.deepEqual(snap.lowerDirs(chain[2]!), ['3/fs', '2/fs', '1/fs']);

    await snap.mountView(chain[2]!, target);
    isMounted = true;
    assert.deepEqual((await readdir(join(target, 'data'))).sort(), ['keep.txt'], 'the whiteout hides gone.txt');
    assert.deepEqual(await readdir(join(target, 'opaque')), ['c.txt'], 'the opaque dir hides a.txt');
    assert.equal(await readFile(join(target, 'top.txt'), 'utf8'), 'top');
    assert.equal((await stat(join(target, 'top.txt'))).mode & 0o777, 0o600);
    await snap.unmount(target);
    isMounted = false;

    // A restart finds the committed layers again.
    const again = new OverlaySnapshotter({ root: join(base, 'snapshots'), exec });
    await again.init();
    assert.ok(again.hasLayer(chain[2]!));
    await assert.rejects(again.remove(chain[1]!), { code: 'FAILED_PRECONDITION' });
    await again.remove(chain[2]!);
    assert.equal(again.hasLayer(chain[2]!), false);
  });

  it('refuses a layer whose DiffID differs from the config and leaves nothing', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'berth-snap-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const snap = new OverlaySnapshotter({ root: join(base, 'snapshots'), exec });
    await snap.init();
    const [first] = await layers();
    await assert.rejects(snap.applyLayer(first!.diffId, null, bytesOf(first!), `sha256:${'0'.repeat(64)}`), {
      code: 'INVALID_ARGUMENT',
      message: /DiffID/,
    });
    assert.deepEqual(await readdir(join(base, 'snapshots', 'layers')), []);
    assert.deepEqual(await readdir(join(base, 'snapshots', 'tmp')), []);
    await assert.rejects(snap.applyLayer('sha256:child', 'sha256:missing', bytesOf(first!), first!.diffId), {
      code: 'FAILED_PRECONDITION',
    });
  });
});
