// Image archives against a real second implementation, skopeo (containers/image), both ways and in both
// formats: what Berth saves, skopeo reads; what skopeo writes, Berth loads, with the right names and the
// same config digest (the image id). File transports only: no registry, no network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContentStore } from '../../../src/content/index.js';
import { readImageArchive } from '../../../src/images/archive/archive-reader.js';
import { writeImageArchive } from '../../../src/images/archive/archive-writer.js';
import type { ArchiveFormat, ArchiveImage } from '../../../src/images/archive/archive-types.js';
import { buildImage, buildLayer, descriptorOf } from '../../harness/oci-image.js';
import type { OciImage } from '../../harness/oci-image.js';

const execFileAsync = promisify(execFile);
const SKOPEO = '/usr/bin/skopeo';
const SKOPEO_TIMEOUT_MS = 60_000;

async function skopeoSkipReason(): Promise<string | undefined> {
  try {
    await access(SKOPEO, constants.X_OK);
    return undefined;
  } catch {
    return `${SKOPEO} is missing (Debian package skopeo: apt-get install -y skopeo)`;
  }
}

const skip = await skopeoSkipReason();

async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(SKOPEO, ['--insecure-policy', ...args], {
      timeout: SKOPEO_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

interface Layout {
  readonly manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
}

/** The config digest of the image an OCI layout dir's index.json lists first. */
async function layoutImage(dir: string): Promise<{ manifestDigest: string; configDigest: string; index: Layout }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Layout;
  const manifestDigest = index.manifests[0]!.digest;
  const manifest = JSON.parse(await readFile(join(dir, 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8')) as {
    config: { digest: string };
  };
  return { manifestDigest, configDigest: manifest.config.digest, index };
}

/** An OCI layout directory holding one image under one ref.name, as skopeo's oci: transport reads it. */
async function writeLayoutDir(dir: string, image: OciImage, refName: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [image.config, ...image.layers, image.manifest]) {
    await writeFile(join(dir, 'blobs', 'sha256', blob.digest.slice(7)), blob.bytes);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { ...descriptorOf(image.manifest), annotations: { 'org.opencontainers.image.ref.name': refName } };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}

describe('image archives with skopeo', { skip, timeout: 180_000 }, () => {
  let root: string;
  let store: ContentStore;
  let image: OciImage;
  let layoutDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-archive-skopeo-'));
    store = new ContentStore(join(root, 'content'));
    await store.init();
    const busybox = await readFile('/bin/busybox').catch(() => Buffer.from('not busybox\n'));
    const layers = await Promise.all([
      buildLayer([
        { type: 'dir', path: 'bin' },
        { type: 'file', path: 'bin/busybox', content: busybox, mode: 0o755 },
        { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      ]),
      buildLayer([{ type: 'file', path: 'etc/hello', content: 'hello\n' }], 'none'),
    ]);
    image = buildImage(layers, { cmd: ['/bin/sh'], labels: { 'org.berth.test': 'archive' } });
    for (const blob of [image.config, ...image.layers, image.manifest]) await store.writeBlob(blob.bytes, blob.digest);
    layoutDir = join(root, 'layout');
    await writeLayoutDir(layoutDir, image, 'v1');
  });
  after(async () => {
    await store?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const save = async (format: ArchiveFormat, file: string, names: string[]): Promise<void> => {
    const entry: ArchiveImage = {
      names,
      manifestDigest: image.manifest.digest,
      manifestMediaType: image.manifest.mediaType,
      manifestSizeBytes: image.manifest.size,
    };
    await writeImageArchive(createWriteStream(file), format, [entry], store);
  };
  const load = async (file: string) => {
    const target = new ContentStore(join(root, `load-${Date.now()}-${Math.random()}`));
    await target.init();
    try {
      return await readImageArchive(createReadStream(file), target);
    } finally {
      await target.close();
    }
  };

  it('skopeo reads a Berth docker archive by its RepoTag, with the same config digest', async () => {
    const file = join(root, 'berth-docker.tar');
    await save('docker', file, ['docker.io/library/busybox:latest', '127.0.0.1:5000/berth-test/busybox:1.0']);
    const out = join(root, 'from-docker');
    await skopeo('copy', `docker-archive:${file}:busybox:latest`, `oci:${out}:copied`);
    assert.equal((await layoutImage(out)).configDigest, image.config.digest);
    const out2 = join(root, 'from-docker-2');
    await skopeo('copy', `docker-archive:${file}:127.0.0.1:5000/berth-test/busybox:1.0`, `oci:${out2}:copied`);
    assert.equal((await layoutImage(out2)).configDigest, image.config.digest);
    const inspected = JSON.parse(await skopeo('inspect', '--config', `docker-archive:${file}`)) as {
      config: { Labels: Record<string, string> };
    };
    assert.equal(inspected.config.Labels['org.berth.test'], 'archive');
  });

  it('skopeo reads a Berth OCI archive by its ref.name, keeping manifest and config digests', async () => {
    const file = join(root, 'berth-oci.tar');
    await save('oci', file, ['docker.io/library/busybox:1.36']);
    const out = join(root, 'from-oci');
    await skopeo('copy', '--preserve-digests', `oci-archive:${file}:1.36`, `oci:${out}:copied`);
    const copied = await layoutImage(out);
    assert.equal(copied.configDigest, image.config.digest);
    assert.equal(copied.manifestDigest, image.manifest.digest);
  });

  it('Berth loads a docker archive skopeo wrote, with the name and config digest', async () => {
    const file = join(root, 'skopeo-docker.tar');
    await skopeo('copy', `oci:${layoutDir}:v1`, `docker-archive:${file}:127.0.0.1:5000/berth-test/busybox:1.0`);
    const imported = await load(file);
    assert.deepEqual(
      imported.map((i) => [i.names, i.configDigest]),
      [[['127.0.0.1:5000/berth-test/busybox:1.0'], image.config.digest]],
    );
  });

  it('Berth loads an OCI archive skopeo wrote, with the name and both digests', async () => {
    const file = join(root, 'skopeo-oci.tar');
    await skopeo('copy', '--preserve-digests', `oci:${layoutDir}:v1`, `oci-archive:${file}:busybox:1.0`);
    const imported = await load(file);
    assert.deepEqual(
      imported.map((i) => [i.names, i.configDigest, i.manifestDigest]),
      [[['docker.io/library/busybox:1.0'], image.config.digest, image.manifest.digest]],
    );
  });

  it('a docker archive skopeo wrote survives load, save as OCI and skopeo again', async () => {
    const file = join(root, 'skopeo-docker-2.tar');
    await skopeo('copy', `oci:${layoutDir}:v1`, `docker-archive:${file}:busybox:2`);
    const target = new ContentStore(join(root, 'relay'));
    await target.init();
    try {
      const [loaded] = await readImageArchive(createReadStream(file), target);
      assert.ok(loaded !== undefined);
      const again = join(root, 'relay-oci.tar');
      await writeImageArchive(createWriteStream(again), 'oci', [loaded], target);
      const out = join(root, 'relay-out');
      await skopeo('copy', `oci-archive:${again}:2`, `oci:${out}:x`);
      assert.equal((await layoutImage(out)).configDigest, image.config.digest);
    } finally {
      await target.close();
    }
  });
});
