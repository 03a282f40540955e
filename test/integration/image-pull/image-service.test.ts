// CRI ImageService against a real berthd and a real local registry: pull (tag, digest, index), list,
// status, remove, fs info, errors, and records surviving a restart. Unpacking into snapshots is not
// covered yet (it lands with the snapshotter).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

const spec = (image: string) => ({
  image,
  annotations: {},
  userSpecifiedImage: '',
  runtimeHandler: '',
  imageRef: '',
});

describe('CRI ImageService', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let images: TestImages;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });

  const pull = (image: string) => {
    const img = berthd.image();
    return unary(img.pullImage.bind(img), { image: spec(image), auth: undefined, sandboxConfig: undefined }, 60_000);
  };
  const statusOf = (image: string, verbose = false) => {
    const img = berthd.image();
    return unary(img.imageStatus.bind(img), { image: spec(image), verbose });
  };

  it('pulls by tag and returns the config digest as the image id', async () => {
    const ref = `${registry.host}/berth-test/busybox:latest`;
    const res = await pull(ref);
    assert.equal(res.imageRef, images.busybox.configDigest);
    const st = await statusOf(ref, true);
    assert.equal(st.image?.id, images.busybox.configDigest);
    assert.deepEqual(st.image?.repoTags, [ref]);
    assert.deepEqual(st.image?.repoDigests, [`${registry.host}/berth-test/busybox@${images.busybox.manifestDigest}`]);
    assert.ok((st.image?.size ?? 0n) > BigInt(images.busybox.layers[0]!.size));
    assert.equal(st.image?.uid, undefined);
    assert.equal(st.image?.username, '');
    const info = JSON.parse(st.info['info'] ?? '{}') as { imageSpec: { config: { Cmd: string[] } } };
    assert.deepEqual(info.imageSpec.config.Cmd, ['/bin/sh']);
    for (const layer of images.busybox.layers) {
      await access(join(berthd.root, 'content', 'blobs', 'sha256', layer.digest.slice(7)));
    }
    // Unpacked once per layer, in overlay form: the whiteout of layer 3 is a 0/0 char device.
    const layersDir = join(berthd.root, 'snapshots', 'overlayfs', 'layers');
    assert.deepEqual((await readdir(layersDir)).sort(), ['1', '2', '3']);
    const whiteout = await lstat(join(layersDir, '3', 'fs', 'data', 'gone.txt'));
    assert.ok(whiteout.isCharacterDevice());
    assert.equal(whiteout.rdev, 0);
  });

  it('a second tag of the same image adds a repo tag, and status works by id, prefix and digest', async () => {
    await pull(`${registry.host}/berth-test/busybox:stable`);
    const byId = await statusOf(images.busybox.configDigest);
    assert.deepEqual(byId.image?.repoTags, [
      `${registry.host}/berth-test/busybox:latest`,
      `${registry.host}/berth-test/busybox:stable`,
    ]);
    const byPrefix = await statusOf(images.busybox.configDigest.slice(7, 19));
    assert.equal(byPrefix.image?.id, images.busybox.configDigest);
    const byDigest = await statusOf(`${registry.host}/berth-test/busybox@${images.busybox.manifestDigest}`);
    assert.equal(byDigest.image?.id, images.busybox.configDigest);
  });

  it('reports the user of the image config', async () => {
    await pull(`${registry.host}/berth-test/busybox-user:latest`);
    assert.equal(
      (await readdir(join(berthd.root, 'snapshots', 'overlayfs', 'layers'))).length,
      3,
      'the same layers are not unpacked twice',
    );
    const st = await statusOf(`${registry.host}/berth-test/busybox-user:latest`);
    assert.equal(st.image?.username, 'app');
    assert.equal(st.image?.uid, undefined);
  });

  it('picks this platform from an index', async () => {
    const res = await pull(`${registry.host}/berth-test/multiarch:latest`);
    assert.equal(res.imageRef, images.busybox.configDigest);
    // The repo digest is the index's, so a later pull or status by that digest finds the image.
    const byIndex = await statusOf(`${registry.host}/berth-test/multiarch@${images.multiarch.indexDigest}`);
    assert.equal(byIndex.image?.id, images.busybox.configDigest);
    assert.ok(
      byIndex.image?.repoDigests.includes(`${registry.host}/berth-test/multiarch@${images.multiarch.indexDigest}`),
    );
  });

  it('lists images, with a filter', async () => {
    const img = berthd.image();
    const all = await unary(img.listImages.bind(img), { filter: undefined });
    assert.deepEqual(
      all.images.map((i) => i.id).sort(),
      [images.busybox.configDigest, images.busyboxUser.configDigest].sort(),
    );
    const one = await unary(img.listImages.bind(img), {
      filter: { image: spec(`${registry.host}/berth-test/busybox-user:latest`) },
    });
    assert.deepEqual(
      one.images.map((i) => i.id),
      [images.busyboxUser.configDigest],
    );
  });

  it('a missing image has an empty status, not an error', async () => {
    const st = await statusOf(`${registry.host}/berth-test/nothing:here`);
    assert.equal(st.image, undefined);
  });

  it('maps errors: bad reference, unknown tag, unreachable registry', async () => {
    const img = berthd.image();
    const bad = await unaryError(img.pullImage.bind(img), {
      image: spec('UPPER/case'),
      auth: undefined,
      sandboxConfig: undefined,
    });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    const missing = await unaryError(img.pullImage.bind(img), {
      image: spec(`${registry.host}/berth-test/busybox:nope`),
      auth: undefined,
      sandboxConfig: undefined,
    });
    assert.equal(missing.code, status.NOT_FOUND);
    const dead = await unaryError(img.pullImage.bind(img), {
      image: spec('127.0.0.1:1/x:1'),
      auth: undefined,
      sandboxConfig: undefined,
    });
    assert.equal(dead.code, status.UNAVAILABLE);
    assert.match(dead.details, /127\.0\.0\.1:1/);
  });

  it('reports image filesystem usage', async () => {
    const img = berthd.image();
    const res = await unary(img.imageFsInfo.bind(img), {});
    const fs = res.imageFilesystems[0];
    assert.equal(fs?.fsId?.mountpoint, join(berthd.root, 'snapshots', 'overlayfs'));
    assert.ok((fs?.usedBytes?.value ?? 0n) > 0n);
    assert.ok((fs?.inodesUsed?.value ?? 0n) > 0n);
  });

  it('keeps images across a restart', async () => {
    assert.equal(await berthd.stop(), 0);
    berthd = await restartBerthd(berthd);
    const st = await statusOf(`${registry.host}/berth-test/busybox:latest`);
    assert.equal(st.image?.id, images.busybox.configDigest);
  });

  it('removing one tag keeps the image; removing by id removes it; removing again succeeds', async () => {
    const img = berthd.image();
    await unary(img.removeImage.bind(img), { image: spec(`${registry.host}/berth-test/busybox:stable`) });
    const kept = await statusOf(images.busybox.configDigest);
    assert.deepEqual(kept.image?.repoTags, [
      `${registry.host}/berth-test/busybox:latest`,
      `${registry.host}/berth-test/multiarch:latest`,
    ]);
    await unary(img.removeImage.bind(img), { image: spec(images.busybox.configDigest) });
    assert.equal((await statusOf(images.busybox.configDigest)).image, undefined);
    await unary(img.removeImage.bind(img), { image: spec(images.busybox.configDigest) });
    // GC: the removed image's config is gone; the layers it shares with busybox-user stay.
    const blob = (d: string) => join(berthd.root, 'content', 'blobs', 'sha256', d.slice(7));
    await assert.rejects(access(blob(images.busybox.configDigest)), { code: 'ENOENT' });
    for (const layer of images.busyboxUser.layers) await access(blob(layer.digest));
    await access(blob(images.busyboxUser.configDigest));
    const left = await unary(img.listImages.bind(img), { filter: undefined });
    assert.deepEqual(
      left.images.map((i) => i.id),
      [images.busyboxUser.configDigest],
    );
  });
});

describe('image GC after the last name goes', { skip, timeout: 120_000 }, () => {
  it('leaves no blob behind', async (t) => {
    const registry = await startRegistry();
    t.after(() => registry.stop());
    await buildTestImages(registry);
    const berthd = await startBerthd();
    t.after(() => berthd.cleanup());
    const img = berthd.image();
    const ref = `${registry.host}/berth-test/multiarch:latest`;
    await unary(img.pullImage.bind(img), { image: spec(ref), auth: undefined, sandboxConfig: undefined }, 60_000);
    await unary(img.removeImage.bind(img), { image: spec(ref) });
    assert.deepEqual(await readdir(join(berthd.root, 'content', 'blobs', 'sha256')), []);
    assert.deepEqual(await readdir(join(berthd.root, 'snapshots', 'overlayfs', 'layers')), [], 'layers go too');
  });
});
