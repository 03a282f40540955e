// A registry that goes silent in the middle of a blob (issue #7, item 3): the proxy sends the first 256 KiB of
// each GET of the big layer and then neither sends nor closes. With image_pull_progress_timeout = "1s" berthd gives up on the
// silent connection and resumes from where it stopped (HTTP Range); when every try goes silent the pull fails
// with UNAVAILABLE saying no byte came, lists nothing half, keeps the ingest, and berthd keeps serving.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { buildImage, buildLayer, pushImage } from '../../harness/oci-image.js';
import type { OciImage } from '../../harness/oci-image.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { startStallProxy } from '../../harness/stall-proxy.js';
import type { StallProxy } from '../../harness/stall-proxy.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const MIB = 1024 * 1024;
const BIG_BYTES = 3 * MIB;
/** Small enough that the tries berthd makes (each resuming where the last went silent) never reach the end. */
const SILENT_AFTER = MIB / 4;
const RPC_TIMEOUT_MS = 60_000;

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });
const resumedFrom = (range: string | undefined) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);

describe('a registry that goes silent mid-blob', { skip, timeout: 90_000 }, () => {
  let registry: Registry;
  let image: OciImage;
  let berthd: Berthd;
  const proxies: StallProxy[] = [];

  const pull = (ref: string) => {
    const img = berthd.image();
    return unary(
      img.pullImage.bind(img),
      { image: spec(ref), auth: undefined, sandboxConfig: undefined },
      RPC_TIMEOUT_MS,
    );
  };
  const listedIds = async () =>
    (await unary(berthd.image().listImages.bind(berthd.image()), { filter: undefined })).images.map((i) => i.id);
  const refVia = (proxy: StallProxy) => `${new URL(proxy.url).host}/berth-test/silent:1`;
  const proxyGoingSilent = async (times: number | undefined) => {
    const proxy = await startStallProxy(registry.url, {
      digest: image.layers[1]!.digest,
      afterBytes: SILENT_AFTER,
      mode: 'stall',
      ...(times === undefined ? {} : { times }),
    });
    proxies.push(proxy);
    return proxy;
  };
  const ingests = async () => {
    const dir = join(berthd.root, 'content', 'ingest');
    const out: { name: string; bytes: number }[] = [];
    for (const name of await readdir(dir)) {
      out.push({ name, bytes: (await stat(join(dir, name, 'data')).catch(() => undefined))?.size ?? -1 });
    }
    return out;
  };

  before(async () => {
    registry = await startRegistry();
    const small = await buildLayer([{ type: 'file', path: 'etc/small', content: 'small layer\n' }]);
    const big = await buildLayer([{ type: 'file', path: 'data/big.bin', content: randomBytes(BIG_BYTES) }], 'none');
    image = buildImage([small, big]);
    await pushImage(registry.url, 'berth-test/silent', image, ['1']);
    berthd = await startBerthd({ criToml: 'image_pull_progress_timeout = "1s"' });
  });
  after(async () => {
    await berthd?.cleanup();
    for (const p of proxies) await p.close();
    await registry?.stop();
  });

  it('drops a download that stopped moving and resumes it, and the pull succeeds', async () => {
    const proxy = await proxyGoingSilent(1);
    const ref = refVia(proxy);
    const res = await pull(ref);
    assert.equal(res.imageRef, image.config.digest);
    assert.ok((await listedIds()).includes(image.config.digest));
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(gets.length, 2, `silent once, then whole: ${gets.join()}`);
    assert.equal(gets[0], '');
    assert.ok(resumedFrom(gets[1]) >= SILENT_AFTER, `the second download resumed: ${gets[1]}`);
    assert.deepEqual(await ingests(), [], 'no ingest once the image is pulled');
    const img = berthd.image();
    await unary(img.removeImage.bind(img), { image: spec(ref) }, RPC_TIMEOUT_MS);
  });

  it('fails with UNAVAILABLE when every try goes silent, keeps serving, and the next pull resumes', async () => {
    const proxy = await proxyGoingSilent(undefined);
    const ref = refVia(proxy);
    let err: ServiceError | undefined;
    await pull(ref).catch((e: unknown) => {
      err = e as ServiceError;
    });
    assert.ok(err !== undefined, 'the pull fails');
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    assert.match(err.details, /dropped after byte \d+: no byte for 1000 ms/);
    assert.ok(!(await listedIds()).includes(image.config.digest), 'the image is not listed');
    assert.deepEqual(await readdir(join(berthd.root, 'snapshots', 'overlayfs', 'tmp')), [], 'no half layer');
    const kept = await ingests();
    assert.equal(kept.length, 1, `only the big layer is left to download: ${JSON.stringify(kept)}`);
    const arrived = kept[0]!.bytes;
    assert.ok(arrived >= SILENT_AFTER && arrived < BIG_BYTES, `with what arrived before the silences: ${arrived}`);
    assert.equal(arrived % SILENT_AFTER, 0, 'and nothing else');
    const rt = berthd.runtime();
    const version = await unary(rt.version.bind(rt), { version: '' });
    assert.equal(version.runtimeName, 'berth', 'berthd keeps serving');

    proxy.passThrough();
    const res = await pull(ref);
    assert.equal(res.imageRef, image.config.digest);
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(resumedFrom(gets.at(-1)), arrived, `the next pull resumed: ${gets.at(-1)}`);
    assert.deepEqual(await ingests(), []);
  });
});
