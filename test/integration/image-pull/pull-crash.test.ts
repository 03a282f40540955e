// kill -9 of berthd in the middle of a pull: no half image is listed, no blob is corrupt, and the next pull
// of the same image resumes the interrupted download (HTTP Range) and succeeds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { buildImage, buildLayer, pushImage } from '../../harness/oci-image.js';
import type { OciImage } from '../../harness/oci-image.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { startStallProxy } from '../../harness/stall-proxy.js';
import type { StallProxy } from '../../harness/stall-proxy.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const BIG_BYTES = 8 * 1024 * 1024;
const STALL_AFTER = 3 * 1024 * 1024;

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

describe('kill -9 in the middle of a pull', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let proxy: StallProxy;
  let image: OciImage;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    const small = await buildLayer([{ type: 'file', path: 'etc/small', content: 'small layer\n' }]);
    const big = await buildLayer([{ type: 'file', path: 'data/big.bin', content: randomBytes(BIG_BYTES) }], 'none');
    image = buildImage([small, big]);
    await pushImage(registry.url, 'berth-test/crash', image, ['1']);
    proxy = await startStallProxy(registry.url, { digest: big.digest, afterBytes: STALL_AFTER });
    berthd = await startBerthd({
      extraToml: `[plugins.cri.registry.mirrors."crash.test"]\nendpoint = ["${proxy.url}"]\n`,
    });
  });
  after(async () => {
    await berthd?.cleanup();
    await proxy?.close();
    await registry?.stop();
  });

  it('leaves no half image or corrupt blob, and the re-pull resumes and succeeds', async () => {
    const ref = 'crash.test/berth-test/crash:1';
    const big = image.layers[1]!;
    const img = berthd.image();
    const firstPull = unary(
      img.pullImage.bind(img),
      { image: spec(ref), auth: undefined, sandboxConfig: undefined },
      60_000,
    );
    firstPull.catch(() => undefined); // it dies with the daemon
    await proxy.stalled;
    // Let berthd write what it received before the crash.
    const ingestDir = join(berthd.root, 'content', 'ingest');
    const deadline = Date.now() + 10_000;
    let ingested = 0;
    while (ingested < STALL_AFTER && Date.now() < deadline) {
      ingested = await ingestBytes(ingestDir);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(ingested > 0, 'the interrupted download left an ingest to resume');
    await berthd.kill();

    proxy.passThrough();
    berthd = await restartBerthd(berthd);
    const list = await unary(berthd.image().listImages.bind(berthd.image()), { filter: undefined });
    assert.deepEqual(list.images, [], 'no half image is listed');
    for (const name of await readdir(join(berthd.root, 'content', 'blobs', 'sha256'))) {
      const bytes = await readFile(join(berthd.root, 'content', 'blobs', 'sha256', name));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), name, `blob ${name} is whole`);
    }
    assert.deepEqual(await readdir(join(berthd.root, 'snapshots', 'overlayfs', 'tmp')), [], 'no half layer');

    const again = berthd.image();
    const res = await unary(
      again.pullImage.bind(again),
      { image: spec(ref), auth: undefined, sandboxConfig: undefined },
      60_000,
    );
    assert.equal(res.imageRef, image.config.digest);
    const ranges = proxy.ranges.get(big.digest) ?? [];
    assert.equal(ranges.length, 2, 'the big blob was fetched twice: interrupted, then resumed');
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(ranges[1]!)?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom <= STALL_AFTER, `resumed from byte ${ranges[1]}`);
    assert.equal(await ingestBytes(ingestDir), 0, 'the ingest is gone once committed');
    const status = await unary(again.imageStatus.bind(again), { image: spec(ref), verbose: false });
    assert.equal(status.image?.id, image.config.digest);
  });
});

async function ingestBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    total += (await stat(join(dir, name, 'data')).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
