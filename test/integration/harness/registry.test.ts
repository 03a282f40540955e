// Proves the registry harness and the test images: start docker-registry, push the images, read them back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { z } from 'zod';
import { MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, hostPlatform, sha256Digest } from '../../harness/oci-image.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { TEST_REPOSITORIES, buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = await registrySkipReason();
if (skip !== undefined) console.log(`skipping registry harness tests: ${skip}`);

const IndexSchema = z.object({
  manifests: z.array(z.object({ digest: z.string(), platform: z.object({ architecture: z.string() }) })),
});

const ACCEPT_ALL = [MEDIA_TYPE_MANIFEST, MEDIA_TYPE_INDEX].join(', ');

async function get(url: string, accept?: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, accept === undefined ? {} : { headers: { accept } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function tarNames(tar: Buffer): Promise<string[]> {
  const names: string[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      names.push(entry.header.name);
      entry.resume();
    }
  })();
  ex.end(tar);
  await done;
  return names;
}

function parseJson(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}

describe('registry harness', { skip, timeout: 60_000 }, () => {
  let registry: Registry | undefined;
  let images: TestImages | undefined;
  const need = (): { registry: Registry; images: TestImages } => {
    assert.ok(registry !== undefined && images !== undefined, 'registry not started');
    return { registry, images };
  };

  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
    console.log(`built and pushed test images in ${images.buildMs} ms to ${registry.host}`);
  });
  after(async () => {
    await registry?.stop();
    await registry?.stop(); // idempotent
  });

  it('answers /v2/ on 127.0.0.1 only', async () => {
    const { registry } = need();
    assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
    assert.equal((await get(`${registry.url}/v2/`)).status, 200);
  });

  it('lists every test repository in the catalog', async () => {
    const { registry } = need();
    const res = await get(`${registry.url}/v2/_catalog`);
    assert.equal(res.status, 200);
    assert.deepEqual(parseJson(res.body), { repositories: [...TEST_REPOSITORIES] });
  });

  it('serves every tag of busybox as the same manifest digest', async () => {
    const { registry, images } = need();
    for (const tag of images.busybox.tags) {
      const res = await get(`${registry.url}/v2/berth-test/busybox/manifests/${tag}`, MEDIA_TYPE_MANIFEST);
      assert.equal(res.status, 200, tag);
      assert.equal(res.headers.get('docker-content-digest'), images.busybox.manifestDigest);
      assert.equal(res.headers.get('content-type'), MEDIA_TYPE_MANIFEST);
      assert.equal(sha256Digest(res.body), images.busybox.manifestDigest);
    }
  });

  it('serves distinct manifests for busybox-user and other:1/other:2', async () => {
    const { registry, images } = need();
    const digests = new Set<string>();
    for (const image of [images.busyboxUser, images.other1, images.other2]) {
      const tag = image.tags[0] ?? '';
      const res = await get(`${registry.url}/v2/${image.repository}/manifests/${tag}`, MEDIA_TYPE_MANIFEST);
      assert.equal(res.headers.get('docker-content-digest'), image.manifestDigest);
      digests.add(image.manifestDigest);
    }
    digests.add(images.busybox.manifestDigest);
    assert.equal(digests.size, 4);
    assert.equal(images.busyboxUser.config.config.User, 'app');
    assert.deepEqual(
      images.busyboxUser.layers.map((l) => l.digest),
      images.busybox.layers.map((l) => l.digest),
    );
  });

  it('serves blobs whose sha256 matches their digest', async () => {
    const { registry, images } = need();
    const { busybox } = images;
    for (const { digest, size } of [{ digest: busybox.configDigest, size: busybox.configSize }, ...busybox.layers]) {
      const res = await get(`${registry.url}/v2/berth-test/busybox/blobs/${digest}`);
      assert.equal(res.status, 200, digest);
      assert.equal(res.body.length, size);
      assert.equal(sha256Digest(res.body), digest);
    }
    const config = await get(`${registry.url}/v2/berth-test/busybox/blobs/${busybox.configDigest}`);
    assert.deepEqual(parseJson(config.body), busybox.config);
  });

  it('puts whiteouts in layer 3 and matches its diff_id', async () => {
    const { registry, images } = need();
    const layer = images.busybox.layers[2];
    assert.ok(layer !== undefined);
    const res = await get(`${registry.url}/v2/berth-test/busybox/blobs/${layer.digest}`);
    const tar = gunzipSync(res.body);
    assert.equal(sha256Digest(tar), layer.diffId);
    const names = await tarNames(tar);
    assert.ok(names.includes('data/.wh.gone.txt'), names.join(' '));
    assert.ok(names.includes('opaque/.wh..wh..opq'), names.join(' '));
    assert.ok(names.includes('opaque/c.txt'), names.join(' '));
  });

  it('links common applets to busybox in layer 1', async () => {
    const { images } = need();
    const layer = images.busybox.layers[0];
    assert.ok(layer !== undefined);
    for (const applet of ['sh', 'ls', 'cat', 'sleep', 'id']) {
      assert.ok(images.applets.includes(applet), applet);
      assert.ok(
        layer.entries.some((e) => e.path === `bin/${applet}` && e.type === 'symlink'),
        applet,
      );
    }
  });

  it('serves the multiarch index with two platforms', async () => {
    const { registry, images } = need();
    const res = await get(`${registry.url}/v2/berth-test/multiarch/manifests/latest`, ACCEPT_ALL);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MEDIA_TYPE_INDEX);
    assert.equal(res.headers.get('docker-content-digest'), images.multiarch.indexDigest);
    const index = IndexSchema.parse(parseJson(res.body));
    assert.deepEqual(
      index.manifests.map((m) => [m.platform.architecture, m.digest]),
      [
        [hostPlatform().architecture, images.busybox.manifestDigest],
        ['s390x', images.multiarch.foreign.manifestDigest],
      ],
    );
    for (const m of index.manifests) {
      const child = await get(`${registry.url}/v2/berth-test/multiarch/manifests/${m.digest}`, MEDIA_TYPE_MANIFEST);
      assert.equal(child.status, 200, m.digest);
    }
  });

  it('builds and pushes in well under a few seconds', () => {
    const { images } = need();
    assert.ok(images.buildMs < 5_000, `${images.buildMs} ms`);
  });
});
