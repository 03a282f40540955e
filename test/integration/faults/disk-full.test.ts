// A full disk under berthd's root (issue #7, item 3): the root is a 64 MiB tmpfs the test mounts, filled with a
// ballast file to leave as little room as each case needs. A pull that does not fit fails with
// RESOURCE_EXHAUSTED saying so (while downloading, or while unpacking), lists nothing half and keeps no partial
// download that would hold the disk full; once space is freed the same pull works. CreateContainer on a full
// root fails the same way and leaves nothing behind; berthd keeps serving throughout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { ContainerConfig, PodSandboxConfig } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, makeTempDir, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { leftovers } from '../../harness/leftovers.js';
import { buildImage, buildLayer, pushImage } from '../../harness/oci-image.js';
import type { OciImage } from '../../harness/oci-image.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const MIB = 1024 * 1024;
const ROOT_SIZE = '64m';
/** Incompressible and uncompressed: the blob and the unpacked layer take this much each. */
const BIG_LAYER_BYTES = 24 * MIB;
const RPC_TIMEOUT_MS = 60_000;

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

describe('a full disk under the root', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let dir: string;
  let root: string;
  let berthd: Berthd;
  let busybox: string;
  let big: OciImage;
  let bigRef: string;
  let basePod: string;

  const ballast = () => join(root, 'ballast');
  const freeBytes = async () => {
    const st = await statfs(root);
    return st.bavail * st.bsize;
  };
  /** Writes ballast until at most `leaveBytes` are free (0: until the disk refuses more). */
  const fillTo = async (leaveBytes: number) => {
    const fh = await open(ballast(), 'a');
    const chunk = Buffer.alloc(MIB, 1);
    try {
      for (let room = (await freeBytes()) - leaveBytes; room > 0; room -= chunk.length) {
        const n = Math.min(room, chunk.length);
        const { bytesWritten } = await fh.write(chunk, 0, n).catch(() => ({ bytesWritten: 0 }));
        if (bytesWritten < n) break;
      }
    } finally {
      await fh.close();
    }
  };
  const freeBallast = () => rm(ballast(), { force: true });
  const failure = async (call: Promise<unknown>): Promise<ServiceError> => {
    try {
      await call;
    } catch (err) {
      return err as ServiceError;
    }
    throw new Error('expected the call to fail, but it succeeded');
  };
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
  const rt = () => berthd.runtime();
  const create = (name: string) =>
    unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId: basePod,
        config: ContainerConfig.fromJSON({
          metadata: { name },
          image: { image: busybox },
          command: ['/bin/sleep', '1000'],
        }),
        sandboxConfig: undefined,
      },
      RPC_TIMEOUT_MS,
    ).then((r) => r.containerId);
  /** Nothing of the big image is half there: no ingest or staging file, no layer being unpacked. */
  const assertNothingHalf = async (when: string) => {
    assert.deepEqual(await readdir(join(root, 'content', 'ingest')), [], `${when}: no partial download is kept`);
    assert.deepEqual(await readdir(join(root, 'snapshots', 'overlayfs', 'tmp')), [], `${when}: no half layer`);
    assert.ok(!(await listedIds()).includes(big.config.digest), `${when}: the big image is not listed`);
    assert.deepEqual(await leftovers(berthd), [], `${when}: nothing left behind`);
  };

  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    busybox = `${registry.host}/berth-test/busybox:latest`;
    big = buildImage([
      await buildLayer([{ type: 'file', path: 'big.bin', content: randomBytes(BIG_LAYER_BYTES) }], 'none'),
    ]);
    await pushImage(registry.url, 'berth-test/big', big, ['1']);
    bigRef = `${registry.host}/berth-test/big:1`;
    dir = await makeTempDir('berth-disk-full-');
    root = join(dir, 'root');
    await mkdir(root);
    const mounted = spawnSync('/usr/bin/mount', ['-t', 'tmpfs', '-o', `size=${ROOT_SIZE},mode=0711`, 'tmpfs', root]);
    assert.equal(mounted.status, 0, `mount the tmpfs root: ${mounted.stderr?.toString()}`);
    berthd = await startBerthd({ root });
    await pull(busybox);
    basePod = (
      await unary(
        rt().runPodSandbox.bind(rt()),
        {
          config: PodSandboxConfig.fromJSON({ metadata: { name: 'base', namespace: 'full', uid: 'base-uid' } }),
          runtimeHandler: '',
        },
        RPC_TIMEOUT_MS,
      )
    ).podSandboxId;
  });
  after(async () => {
    if (berthd !== undefined && basePod !== undefined) {
      await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: basePod }, RPC_TIMEOUT_MS).catch(() => undefined);
    }
    await berthd?.cleanup();
    if (root !== undefined) spawnSync('/usr/bin/umount', ['-l', root]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await registry?.stop();
  });

  it('a pull that does not fit fails with RESOURCE_EXHAUSTED, keeps nothing half, and works once space is freed', async () => {
    await fillTo(BIG_LAYER_BYTES / 2);
    const downloading = await failure(pull(bigRef));
    assert.equal(downloading.code, status.RESOURCE_EXHAUSTED, downloading.details);
    assert.match(downloading.details, /pull image ".*berth-test\/big:1": the image filesystem is full/);
    assert.match(downloading.details, /no space left on device/);
    await assertNothingHalf('after the download ran out of space');

    // Room for the blob, not for the unpacked layer beside it.
    await freeBallast();
    await fillTo(BIG_LAYER_BYTES + BIG_LAYER_BYTES / 2);
    const unpacking = await failure(pull(bigRef));
    assert.equal(unpacking.code, status.RESOURCE_EXHAUSTED, unpacking.details);
    assert.match(unpacking.details, /unpack layer .*no space left on device/);
    await assertNothingHalf('after the unpack ran out of space');

    await freeBallast();
    const res = await pull(bigRef);
    assert.equal(res.imageRef, big.config.digest);
    assert.ok((await listedIds()).includes(big.config.digest));
    const img = berthd.image();
    await unary(img.removeImage.bind(img), { image: spec(bigRef) }, RPC_TIMEOUT_MS);
  });

  it('CreateContainer on a full root fails cleanly and works once space is freed', async () => {
    await fillTo(0);
    const err = await failure(create('on-full-disk'));
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
    assert.match(err.details, /record container .*: no space left/);
    assert.equal((await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers.length, 0);
    assert.deepEqual(await leftovers(berthd), [], 'nothing left behind');

    await freeBallast();
    const id = await create('on-full-disk');
    await unary(rt().startContainer.bind(rt()), { containerId: id }, RPC_TIMEOUT_MS);
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, RPC_TIMEOUT_MS);
    assert.deepEqual(await leftovers(berthd), []);
    const v = await unary(rt().version.bind(rt()), { version: 'v1' });
    assert.equal(v.runtimeName, 'berth');
  });
});
