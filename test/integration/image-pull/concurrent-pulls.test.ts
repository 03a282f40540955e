// Two pulls at once of images that share their layers: both succeed, and each shared blob is downloaded once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { startStallProxy } from '../../harness/stall-proxy.js';
import type { StallProxy } from '../../harness/stall-proxy.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

describe('concurrent pulls', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let images: TestImages;
  let proxy: StallProxy;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
    // A counting pass-through: it never stalls (no blob has this digest).
    proxy = await startStallProxy(registry.url, { digest: `sha256:${'0'.repeat(64)}`, afterBytes: 0 });
    berthd = await startBerthd({
      extraToml: `[plugins.cri.registry.mirrors."shared.test"]\nendpoint = ["${proxy.url}"]\n`,
    });
  });
  after(async () => {
    await berthd?.cleanup();
    await proxy?.close();
    await registry?.stop();
  });

  it('pulls two images sharing layers at once, fetching each shared blob once', async () => {
    const pull = (ref: string) => {
      const img = berthd.image();
      return unary(img.pullImage.bind(img), { image: spec(ref), auth: undefined, sandboxConfig: undefined }, 60_000);
    };
    const [a, b] = await Promise.all([
      pull('shared.test/berth-test/busybox:latest'),
      pull('shared.test/berth-test/busybox-user:latest'),
    ]);
    assert.equal(a.imageRef, images.busybox.configDigest);
    assert.equal(b.imageRef, images.busyboxUser.configDigest);
    for (const layer of images.busybox.layers) {
      assert.equal(proxy.ranges.get(layer.digest)?.length, 1, `layer ${layer.digest} fetched once`);
    }
    const list = await unary(berthd.image().listImages.bind(berthd.image()), { filter: undefined });
    assert.equal(list.images.length, 2);
  });
});
