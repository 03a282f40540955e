// A registry that drops the connection, or goes silent, in the middle of a blob (issue #7, item 3), through a
// proxy that sends the first bytes of the big layer and then resets the connection (or neither sends nor
// closes). A few faults: the pull resumes each time from where it stopped (HTTP Range) and succeeds; a silent
// connection is given up after image_pull_progress_timeout (1s here). Faults on every try: the pull fails with
// UNAVAILABLE naming the registry (and the key, for silence), lists nothing half, keeps only the ingest a
// resume reuses, berthd keeps serving, and the next pull resumes it.
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
const BIG_BYTES = 4 * MIB;
const CUT_AFTER = MIB;
/** Small enough that the tries berthd makes (each resuming where the last stopped) never reach the end. */
const SHORT_CUT_AFTER = MIB / 8;
const RPC_TIMEOUT_MS = 60_000;

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });
const resumedFrom = (range: string | undefined) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1] ?? 0);

describe('a registry that drops connections or goes silent mid-blob', { skip, timeout: 120_000 }, () => {
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
  const removeImage = (ref: string) => {
    const img = berthd.image();
    return unary(img.removeImage.bind(img), { image: spec(ref) }, RPC_TIMEOUT_MS);
  };
  /** The pull fails UNAVAILABLE; returns its error for the message checks. */
  const failedPull = async (ref: string): Promise<ServiceError> => {
    const err = await pull(ref).then(
      () => assert.fail('the pull fails'),
      (e: unknown) => e as ServiceError,
    );
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    return err;
  };
  const listedIds = async () =>
    (await unary(berthd.image().listImages.bind(berthd.image()), { filter: undefined })).images.map((i) => i.id);
  /** The proxy's own host as the registry: the reference names it, so errors must too. */
  const refVia = (proxy: StallProxy) => `${new URL(proxy.url).host}/berth-test/drops:1`;
  const proxyFaulting = async (mode: 'cut' | 'stall', times: number | undefined, afterBytes: number) => {
    const big = image.layers[1]!;
    const proxy = await startStallProxy(registry.url, {
      digest: big.digest,
      afterBytes,
      mode,
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
    await pushImage(registry.url, 'berth-test/drops', image, ['1']);
    berthd = await startBerthd({ criToml: 'image_pull_progress_timeout = "1s"' });
  });
  after(async () => {
    await berthd?.cleanup();
    for (const p of proxies) await p.close();
    await registry?.stop();
  });

  it('resumes a download the registry cut off, and the pull succeeds', async () => {
    const proxy = await proxyFaulting('cut', 2, CUT_AFTER);
    const res = await pull(refVia(proxy));
    assert.equal(res.imageRef, image.config.digest);
    assert.ok((await listedIds()).includes(image.config.digest));
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(gets.length, 3, `cut twice, then whole: ${gets.join()}`);
    assert.equal(gets[0], '', 'the first download starts at byte 0');
    for (const range of gets.slice(1)) {
      assert.ok(resumedFrom(range) >= CUT_AFTER, `a later download resumes where the last one stopped: ${range}`);
    }
    assert.deepEqual(await ingests(), [], 'no ingest once the image is pulled');
    await removeImage(refVia(proxy));
  });

  it('gives up with UNAVAILABLE naming the registry when every try is cut, and the next pull resumes', async () => {
    const proxy = await proxyFaulting('cut', undefined, SHORT_CUT_AFTER);
    const ref = refVia(proxy);
    const err = await failedPull(ref);
    assert.match(err.details, new RegExp(`connection to ${proxy.url.replace(/[.:/]/g, '\\$&')} dropped after byte`));
    assert.ok(!(await listedIds()).includes(image.config.digest), 'the image is not listed');
    assert.deepEqual(await readdir(join(berthd.root, 'snapshots', 'overlayfs', 'tmp')), [], 'no half layer');
    const kept = await ingests();
    assert.equal(kept.length, 1, 'only the big layer is left to download');
    assert.ok(kept[0]!.bytes >= SHORT_CUT_AFTER && kept[0]!.bytes < image.layers[1]!.size, 'with what arrived');

    const cuts = proxy.ranges.get(image.layers[1]!.digest)?.length ?? 0;
    proxy.passThrough();
    const res = await pull(ref);
    assert.equal(res.imageRef, image.config.digest);
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(gets.length, cuts + 1);
    assert.ok(resumedFrom(gets.at(-1)) >= kept[0]!.bytes, `the next pull resumed: ${gets.at(-1)}`);
    assert.deepEqual(await ingests(), []);
    await removeImage(ref);
  });

  it('drops a download that went silent and resumes it, and the pull succeeds', async () => {
    const proxy = await proxyFaulting('stall', 1, SHORT_CUT_AFTER);
    const ref = refVia(proxy);
    const res = await pull(ref);
    assert.equal(res.imageRef, image.config.digest);
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(gets.length, 2, `silent once, then whole: ${gets.join()}`);
    assert.equal(gets[0], '');
    assert.equal(resumedFrom(gets[1]), SHORT_CUT_AFTER, `the second download resumed: ${gets[1]}`);
    assert.deepEqual(await ingests(), [], 'no ingest once the image is pulled');
    await removeImage(ref);
  });

  it('fails with UNAVAILABLE naming the timeout when every try goes silent, keeps serving, and resumes', async () => {
    const proxy = await proxyFaulting('stall', undefined, SHORT_CUT_AFTER);
    const ref = refVia(proxy);
    const err = await failedPull(ref);
    assert.match(err.details, /dropped after byte \d+: no byte for 1000 ms \(image_pull_progress_timeout\)/);
    assert.ok(!(await listedIds()).includes(image.config.digest), 'the image is not listed');
    const kept = await ingests();
    assert.equal(kept.length, 1, `only the big layer is left to download: ${JSON.stringify(kept)}`);
    const arrived = kept[0]!.bytes;
    assert.ok(arrived >= SHORT_CUT_AFTER && arrived < BIG_BYTES, `with what arrived before the silences: ${arrived}`);
    assert.equal(arrived % SHORT_CUT_AFTER, 0, 'and nothing else');
    const rt = berthd.runtime();
    assert.equal((await unary(rt.version.bind(rt), { version: '' })).runtimeName, 'berth', 'berthd keeps serving');

    proxy.passThrough();
    assert.equal((await pull(ref)).imageRef, image.config.digest);
    const gets = proxy.ranges.get(image.layers[1]!.digest) ?? [];
    assert.equal(resumedFrom(gets.at(-1)), arrived, `the next pull resumed: ${gets.at(-1)}`);
    assert.deepEqual(await ingests(), []);
  });
});
