// kill -9 of berthd at every crash point of the image pull and removal paths (src/base/crash-point.ts), in the
// order a pull reaches them: berthd is armed with one point, the RPC (a pull of the same reference, or its
// removal) dies there, and berthd restarts armed with the next point, so each pull goes on from where the last
// one stopped. After every restart: the image is listed whole (every blob and unpacked layer it needs) or not at
// all; every blob's bytes match its name; the snapshotter has no half layer (nothing in tmp/, every layer dir has
// its meta.json); each ingest is one a resume will reuse (for a blob not yet committed, no .tmp- file); the
// interrupted download of the big layer is resumed (HTTP Range), never restarted. At the end the same reference
// pulls and removes cleanly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CRASH_POINT_ENV, crashPointMessage } from '../../../src/base/crash-point.js';
import { integrationSkipReason, restartBerthd, startBerthd, waitForExit } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { buildImage, buildIndex, buildLayer, descriptorOf, hostPlatform, pushIndex } from '../../harness/oci-image.js';
import type { OciImage } from '../../harness/oci-image.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { startStallProxy } from '../../harness/stall-proxy.js';
import type { StallProxy } from '../../harness/stall-proxy.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const RPC_TIMEOUT_MS = 30_000;
const CRASH_WAIT_MS = 30_000;
/** Three write batches (1 MiB each, base/batched-write.ts): the ingest is part-way after the first. */
const BIG_BYTES = 3 * 1024 * 1024;
const REF = 'crash.test/berth-test/points:1';

/** In the order one pull reaches them (the index is stored first, the config before any layer). */
const PULL_POINTS = Object.freeze([
  'content.write-blob.before-rename',
  'image.pull.after-manifest',
  'content.ingest.after-open',
  'content.commit.before-rename',
  'content.commit.after-rename',
  'image.pull.after-config',
  'content.ingest.mid-blob',
  'snapshots.layer.mid-fill',
  'snapshots.layer.after-fill',
  'snapshots.layer.before-rename',
  'snapshots.layer.after-rename',
  'image.pull.before-record',
  'image.pull.after-record',
]);
/** RemoveImage of the pulled image, then of the name again (a retry finishes the GC a crash cut off). */
const REMOVE_POINTS = Object.freeze([
  'image.remove.after-names',
  'content.gc.after-unlink',
  'image.gc.after-blobs',
  'image.gc.mid-layers',
  'snapshots.discard.after-rename',
]);

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

describe('kill -9 at every crash point of pull and image removal', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let proxy: StallProxy;
  let image: OciImage;
  let berthd: Berthd;
  let indexDigest: string;

  const blobsDir = () => join(berthd.root, 'content', 'blobs', 'sha256');
  const ingestDir = () => join(berthd.root, 'content', 'ingest');
  const snapshotsDir = () => join(berthd.root, 'snapshots', 'overlayfs');
  const pull = () => {
    const img = berthd.image();
    return unary(
      img.pullImage.bind(img),
      { image: spec(REF), auth: undefined, sandboxConfig: undefined },
      RPC_TIMEOUT_MS,
    );
  };
  const removeImage = () => {
    const img = berthd.image();
    return unary(img.removeImage.bind(img), { image: spec(REF) }, RPC_TIMEOUT_MS);
  };
  const listed = async () =>
    (await unary(berthd.image().listImages.bind(berthd.image()), { filter: undefined })).images;
  const blobs = async () => (await readdir(blobsDir()).catch(() => [] as string[])).map((n) => `sha256:${n}`);
  /** Committed layers by chain ID (from their meta.json; a layer dir without one is a half layer). */
  const layers = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const n of await readdir(join(snapshotsDir(), 'layers')).catch(() => [] as string[])) {
      const meta = JSON.parse(await readFile(join(snapshotsDir(), 'layers', n, 'meta.json'), 'utf8')) as {
        chainId: string;
      };
      out.push(meta.chainId);
    }
    return out;
  };
  /**
   * Ingest dirs and the bytes each holds. A dir is named by the sha256 of its ref ("pull-<digest>"); its
   * `expected` file may be torn when the crash hit while another download opened its ingest (a resume then
   * starts that one over, in the same dir), so the name says which blob it is for.
   */
  const ingests = async (): Promise<{ name: string; bytes: number }[]> => {
    const out = [];
    for (const name of await readdir(ingestDir()).catch(() => [] as string[])) {
      const bytes = (await stat(join(ingestDir(), name, 'data')).catch(() => undefined))?.size ?? 0;
      out.push({ name, bytes });
    }
    return out;
  };
  const ingestNameOf = (digest: string) => createHash('sha256').update(`pull-${digest}`).digest('hex');
  const chainIdsOf = (img: OciImage): string[] => {
    const chain: string[] = [];
    for (const diffId of img.configJson.rootfs.diff_ids) {
      const prev = chain.at(-1);
      chain.push(
        prev === undefined ? diffId : `sha256:${createHash('sha256').update(`${prev} ${diffId}`).digest('hex')}`,
      );
    }
    return chain;
  };

  /** What a client and the disk show after a restart: the image whole or absent, nothing half, nothing stale. */
  const assertConsistent = async (when: string) => {
    const stored = new Set(await blobs());
    for (const digest of stored) {
      const bytes = await readFile(join(blobsDir(), digest.slice('sha256:'.length)));
      assert.equal(
        `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
        digest,
        `${when}: blob ${digest} is whole`,
      );
    }
    assert.deepEqual(await readdir(join(snapshotsDir(), 'tmp')), [], `${when}: no half layer or snapshot in tmp/`);
    const committed = new Set(await layers()); // throws on a layer dir without a readable meta.json
    const images = await listed();
    if (images.length > 0) {
      assert.equal(images.length, 1, `${when}: one image`);
      assert.equal(images[0]!.id, image.config.digest, `${when}: the listed image is the pulled one`);
      for (const d of [indexDigest, image.manifest.digest, image.config.digest, ...image.layers.map((l) => l.digest)]) {
        assert.ok(stored.has(d), `${when}: the listed image's blob ${d} is stored`);
      }
      for (const c of chainIdsOf(image))
        assert.ok(committed.has(c), `${when}: the listed image's layer ${c} is unpacked`);
    }
    const toCome = new Set(
      [image.config, ...image.layers].filter((b) => !stored.has(b.digest)).map((b) => ingestNameOf(b.digest)),
    );
    for (const i of await ingests()) {
      assert.ok(!i.name.startsWith('.tmp-'), `${when}: no staging file ${i.name} is left`);
      assert.ok(toCome.has(i.name), `${when}: ingest ${i.name} is for a blob still to come`);
    }
  };

  const crashAt = async (point: string, act: () => Promise<unknown>) => {
    const pending = act();
    pending.catch(() => undefined); // the RPC dies with berthd
    await waitForExit(berthd.process, CRASH_WAIT_MS);
    assert.equal(berthd.process.signalCode, 'SIGKILL', `berthd died by SIGKILL:\n${berthd.stderr().slice(-4000)}`);
    assert.ok(berthd.stderr().includes(crashPointMessage(point)), `berthd reached crash point ${point}`);
    await assert.rejects(pending, `the RPC reaching ${point} failed with the daemon`);
  };
  const restart = async (point: string | undefined) => {
    berthd = await restartBerthd(berthd, point === undefined ? {} : { env: { [CRASH_POINT_ENV]: point } });
  };

  before(async () => {
    registry = await startRegistry();
    const small = await buildLayer([
      { type: 'dir', path: 'etc' },
      { type: 'file', path: 'etc/small', content: 'small layer\n' },
    ]);
    const big = await buildLayer([{ type: 'file', path: 'data/big.bin', content: randomBytes(BIG_BYTES) }], 'none');
    image = buildImage([small, big]);
    const index = buildIndex([descriptorOf(image.manifest, { platform: hostPlatform() })]);
    indexDigest = index.digest;
    await pushIndex(registry.url, 'berth-test/points', index, [image], ['1']);
    proxy = await startStallProxy(registry.url);
    berthd = await startBerthd({
      extraToml: `[plugins.cri.registry.mirrors."crash.test"]\nendpoint = ["${proxy.url}"]\n`,
      env: { [CRASH_POINT_ENV]: PULL_POINTS[0]! },
    });
  });
  after(async () => {
    await berthd?.cleanup();
    await proxy?.close();
    await registry?.stop();
  });

  it('keeps the image whole or absent and resumes the pull after each crash', async () => {
    const big = image.layers[1]!;
    for (const [i, point] of PULL_POINTS.entries()) {
      await crashAt(point, pull);
      await restart(PULL_POINTS[i + 1] ?? REMOVE_POINTS[0]);
      await assertConsistent(`after a crash at ${point}`);
      if (point === 'content.ingest.mid-blob') {
        const part = (await ingests()).find((n) => n.name === ingestNameOf(big.digest));
        assert.ok(part !== undefined && part.bytes > 0 && part.bytes < big.size, 'the big layer is part-way');
      }
      const isRecorded = PULL_POINTS.indexOf(point) >= PULL_POINTS.indexOf('image.pull.after-record');
      assert.equal((await listed()).length, isRecorded ? 1 : 0, `after ${point}: listed once recorded`);
    }
    const gets = proxy.ranges.get(big.digest) ?? [];
    assert.equal(gets.filter((r) => r === '').length, 1, `the big layer was fetched from byte 0 once: ${gets.join()}`);
    assert.ok(
      gets.slice(1).every((r) => Number(/^bytes=(\d+)-$/.exec(r)?.[1]) > 0),
      `every later fetch resumed: ${gets.join()}`,
    );
    assert.equal((await ingests()).length, 0, 'no ingest once the image is pulled');
  });

  it('keeps the image absent and finishes the removal after each crash', async () => {
    for (const [i, point] of REMOVE_POINTS.entries()) {
      await crashAt(point, removeImage);
      await restart(REMOVE_POINTS[i + 1]);
      await assertConsistent(`after a crash at ${point}`);
      assert.deepEqual(await listed(), [], `after ${point}: the image is gone`);
    }
    await removeImage(); // finishes the GC the last crash cut off
    assert.deepEqual(await blobs(), [], 'no blob is left');
    assert.deepEqual(await layers(), [], 'no layer is left');
    assert.deepEqual(await ingests(), [], 'no ingest is left');

    const res = await pull();
    assert.equal(res.imageRef, image.config.digest);
    await assertConsistent('after the last pull');
    assert.equal((await listed()).length, 1);
    await removeImage();
    assert.deepEqual(await blobs(), []);
    assert.deepEqual(await layers(), []);
  });
});
