// Image archives, written from one content store and read into another: both formats, shared layers,
// names, platforms, gzip-compressed archives, docker save's symlinks and entry order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { sha256Digest } from '../../../../src/content/index.js';
import { readImageArchive } from '../../../../src/images/archive/archive-reader.js';
import { writeImageArchive } from '../../../../src/images/archive/archive-writer.js';
import { buildImage, buildIndex, buildLayer, descriptorOf } from '../../../harness/oci-image.js';
import {
  archiveImage,
  buildImages,
  capture,
  makeTar,
  source,
  storeImage,
  tarEntries,
  withStores,
} from './archive-fixtures.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);
const BUSYBOX = 'docker.io/library/busybox:latest';
const LOCAL = '127.0.0.1:5000/berth-test/app:1.0';

function json(bytes: Buffer): unknown {
  return JSON.parse(bytes.toString('utf8'));
}

describe('image archive: OCI layout', () => {
  it('round-trips images, names and every blob digest', () =>
    withStores(async (a, b) => {
      const { one, two } = await buildImages();
      await storeImage(a, one);
      await storeImage(a, two);
      const bytes = await capture((out) =>
        writeImageArchive(out, 'oci', [archiveImage(one, [BUSYBOX, LOCAL]), archiveImage(two, [])], a),
      );
      const entries = await tarEntries(bytes);
      assert.equal(entries[0]?.name, 'oci-layout');
      assert.deepEqual(json(entries[0].body), { imageLayoutVersion: '1.0.0' });
      const index = json(entries.at(-1)!.body) as { manifests: { digest: string; annotations?: object }[] };
      assert.equal(entries.at(-1)?.name, 'index.json');
      assert.deepEqual(
        index.manifests.map((m) => [m.digest, m.annotations]),
        [
          [one.manifest.digest, { 'io.containerd.image.name': BUSYBOX, 'org.opencontainers.image.ref.name': 'latest' }],
          [one.manifest.digest, { 'io.containerd.image.name': LOCAL, 'org.opencontainers.image.ref.name': '1.0' }],
          [two.manifest.digest, undefined],
        ],
      );
      const blobNames = entries.filter((e) => e.type === 'file' && e.name.startsWith('blobs/')).map((e) => e.name);
      assert.equal(new Set(blobNames).size, blobNames.length, 'the shared base layer is written once');
      assert.equal(blobNames.length, 2 * 2 + 3, 'two configs, two manifests, three layers');

      const protectedDigests = new Set<string>();
      const imported = await readImageArchive(source(bytes), b, { protect: (d) => protectedDigests.add(d) });
      assert.deepEqual(imported, [
        {
          names: [BUSYBOX, LOCAL],
          resolvedDigest: one.manifest.digest,
          manifestDigest: one.manifest.digest,
          manifestMediaType: one.manifest.mediaType,
          manifestSizeBytes: one.manifest.size,
          configDigest: one.config.digest,
          layerDigests: one.layers.map((l) => l.digest),
        },
        {
          names: [],
          resolvedDigest: two.manifest.digest,
          manifestDigest: two.manifest.digest,
          manifestMediaType: two.manifest.mediaType,
          manifestSizeBytes: two.manifest.size,
          configDigest: two.config.digest,
          layerDigests: two.layers.map((l) => l.digest),
        },
      ]);
      for (const blob of [one.manifest, one.config, ...one.layers, two.manifest, two.config, ...two.layers]) {
        assert.ok(await b.verify(blob.digest), `${blob.digest} stored and verified`);
        assert.ok(protectedDigests.has(blob.digest), `${blob.digest} was offered to the lease`);
      }
    }));

  it('writes the same bytes for the same images (fixed times, fixed order)', () =>
    withStores(async (a) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      const write = (): Promise<Buffer> =>
        capture((out) => writeImageArchive(out, 'oci', [archiveImage(one, [BUSYBOX])], a));
      assert.deepEqual(await write(), await write());
    }));

  it('reads a gzip-compressed archive and reuses blobs already in the store', () =>
    withStores(async (a, b) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      await b.writeBlob(one.layers[0]!.bytes);
      const bytes = await capture((out) => writeImageArchive(out, 'oci', [archiveImage(one, [BUSYBOX])], a));
      const [image] = await readImageArchive(source(await gzip(bytes)), b);
      assert.equal(image?.configDigest, one.config.digest);
      assert.deepEqual(image?.names, [BUSYBOX]);
    }));

  it('names images from ref.name only when it is a full reference (skopeo), never from a bare tag', () =>
    withStores(async (a, b) => {
      const { one, two } = await buildImages();
      const all = [one.config, ...one.layers, one.manifest, two.config, ...two.layers, two.manifest];
      const blobs = [...new Map(all.map((bl) => [bl.digest, bl])).values()];
      const index = {
        schemaVersion: 2,
        manifests: [
          { ...descriptorOf(one.manifest), annotations: { 'org.opencontainers.image.ref.name': 'busybox:1.36' } },
          { ...descriptorOf(two.manifest), annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
        ],
      };
      const tar = await makeTar([
        { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
        { name: 'index.json', body: JSON.stringify(index) },
        ...blobs.map((bl) => ({ name: `blobs/sha256/${bl.digest.slice(7)}`, body: bl.bytes })),
      ]);
      void a;
      const imported = await readImageArchive(source(tar), b);
      assert.deepEqual(
        imported.map((i) => [i.configDigest, i.names]),
        [
          [one.config.digest, ['docker.io/library/busybox:1.36']],
          [two.config.digest, []],
        ],
      );
    }));

  it("keeps only this platform's manifest of a multi-platform entry, or the one asked for", () =>
    withStores(async (a, b) => {
      const { one } = await buildImages();
      const foreignLayer = await buildLayer([{ type: 'file', path: 'arch.txt', content: 's390x\n' }]);
      const foreign = buildImage([foreignLayer], { architecture: 's390x' });
      const host = one.platform;
      const idx = buildIndex([
        descriptorOf(foreign.manifest, { platform: foreign.platform }),
        descriptorOf(one.manifest, { platform: host }),
      ]);
      const topIndex = {
        schemaVersion: 2,
        manifests: [{ ...descriptorOf(idx), annotations: { 'io.containerd.image.name': BUSYBOX } }],
      };
      // Like `ctr export` of a multi-platform image: the foreign platform's layer is absent.
      const blobs = [idx, one.config, ...one.layers, one.manifest, foreign.config, foreign.manifest];
      const tar = await makeTar([
        { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
        ...blobs.map((bl) => ({ name: `blobs/sha256/${bl.digest.slice(7)}`, body: bl.bytes })),
        { name: 'index.json', body: JSON.stringify(topIndex) },
      ]);
      void a;
      const [image] = await readImageArchive(source(tar), b);
      assert.equal(image?.resolvedDigest, idx.digest);
      assert.equal(image?.manifestDigest, one.manifest.digest);
      assert.equal(image?.configDigest, one.config.digest);
      assert.deepEqual(image?.names, [BUSYBOX]);
      await assert.rejects(readImageArchive(source(tar), b, { platform: { os: 'linux', architecture: 's390x' } }), {
        code: 'INVALID_ARGUMENT',
        message: /blob .* is not in the archive/,
      });
      await assert.rejects(readImageArchive(source(tar), b, { platform: { os: 'linux', architecture: 'mips' } }), {
        code: 'NOT_FOUND',
        message: /no manifest for linux\/mips/,
      });
    }));
});

describe('image archive: docker save format', () => {
  it('writes what docker save writes: uncompressed layers, familiar RepoTags, repositories', () =>
    withStores(async (a) => {
      const { one, two } = await buildImages('gzip');
      await storeImage(a, one);
      await storeImage(a, two);
      const bytes = await capture((out) =>
        writeImageArchive(
          out,
          'docker',
          [
            archiveImage(one, [BUSYBOX, LOCAL, `docker.io/library/busybox@${one.manifest.digest}`]),
            archiveImage(two, []),
          ],
          a,
        ),
      );
      const entries = await tarEntries(bytes);
      const byName = new Map(entries.map((e) => [e.name, e]));
      const manifestJson = json(byName.get('manifest.json')!.body) as {
        Config: string;
        RepoTags: string[] | null;
        Layers: string[];
      }[];
      assert.deepEqual(
        manifestJson.map((m) => [m.Config, m.RepoTags]),
        [
          [`${one.config.digest.slice(7)}.json`, ['busybox:latest', '127.0.0.1:5000/berth-test/app:1.0']],
          [`${two.config.digest.slice(7)}.json`, null],
        ],
      );
      assert.equal(manifestJson[0]?.Layers[0], manifestJson[1]?.Layers[0], 'the shared base layer');
      assert.equal(entries.filter((e) => e.name === manifestJson[0]?.Layers[0]).length, 1, 'written once');
      for (const [i, image] of [one, two].entries()) {
        const m = manifestJson[i]!;
        assert.deepEqual(byName.get(m.Config)?.body, image.config.bytes);
        assert.deepEqual(
          m.Layers.map((l) => sha256Digest(byName.get(l)!.body)),
          image.layers.map((l) => l.diffId),
          'each layer.tar is the uncompressed layer',
        );
      }
      const repositories = json(byName.get('repositories')!.body) as Record<string, Record<string, string>>;
      const top = manifestJson[0]!.Layers.at(-1)!.split('/')[0];
      assert.deepEqual(repositories, { busybox: { latest: top }, '127.0.0.1:5000/berth-test/app': { '1.0': top } });
    }));

  it('round-trips: same config, layers stored uncompressed under their diff_ids, names normalised', () =>
    withStores(async (a, b) => {
      const { one, two } = await buildImages('gzip');
      await storeImage(a, one);
      await storeImage(a, two);
      const bytes = await capture((out) =>
        writeImageArchive(out, 'docker', [archiveImage(one, [BUSYBOX, LOCAL]), archiveImage(two, [])], a),
      );
      const imported = await readImageArchive(source(bytes), b);
      assert.deepEqual(
        imported.map((i) => [i.configDigest, i.names, i.layerDigests, i.manifestMediaType]),
        [
          [
            one.config.digest,
            [BUSYBOX, LOCAL],
            one.layers.map((l) => l.diffId),
            'application/vnd.docker.distribution.manifest.v2+json',
          ],
          [
            two.config.digest,
            [],
            two.layers.map((l) => l.diffId),
            'application/vnd.docker.distribution.manifest.v2+json',
          ],
        ],
      );
      const manifest = json(await b.readBytes(imported[0]!.manifestDigest, 1 << 20)) as {
        config: { mediaType: string; digest: string; size: number };
        layers: { mediaType: string; digest: string; size: number }[];
      };
      assert.equal(manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
      assert.equal(manifest.config.size, one.config.size);
      assert.deepEqual(
        manifest.layers.map((l) => [l.mediaType, l.digest, l.size]),
        one.layers.map((l) => ['application/vnd.docker.image.rootfs.diff.tar', l.diffId, l.uncompressedSize]),
      );
      assert.equal(imported[0]!.manifestSizeBytes, (await b.info(imported[0]!.manifestDigest)).sizeBytes);
      for (const d of imported[0]!.layerDigests) assert.ok(await b.verify(d));

      // Saved again as OCI: the Docker manifest becomes the equivalent OCI manifest (containers/image skips
      // other media types in index.json); config and layers are the same bytes, so the same image id.
      const again = await capture((out) => writeImageArchive(out, 'oci', [imported[0]!], b));
      const entries = new Map((await tarEntries(again)).map((e) => [e.name, e.body]));
      const index = json(entries.get('index.json')!) as { manifests: { mediaType: string; digest: string }[] };
      assert.equal(index.manifests[0]?.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      const converted = json(entries.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!) as {
        mediaType: string;
        config: { mediaType: string; digest: string };
        layers: { mediaType: string; digest: string }[];
      };
      assert.equal(converted.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(converted.config.mediaType, 'application/vnd.oci.image.config.v1+json');
      assert.deepEqual(
        converted.layers.map((l) => [l.mediaType, l.digest]),
        one.layers.map((l) => ['application/vnd.oci.image.layer.v1.tar', l.diffId]),
      );
      const [back] = await readImageArchive(source(again), a);
      assert.equal(back?.configDigest, one.config.digest);
      assert.deepEqual(back?.names, [BUSYBOX, LOCAL]);
    }));

  it('reads gzip layers (sniffed), manifest.json first, and docker save symlinks for shared layers', () =>
    withStores(async (a, b) => {
      const { one, two } = await buildImages('gzip');
      void a;
      const [base, own1] = one.layers;
      const own2 = two.layers[1]!;
      const manifestJson = [
        { Config: 'c1.json', RepoTags: ['busybox:1'], Layers: ['l0/layer.tar', 'l1/layer.tar'] },
        { Config: 'c2.json', RepoTags: ['other:2'], Layers: ['./l2/layer.tar', 'l3/layer.tar'] },
      ];
      const tar = await makeTar([
        { name: 'manifest.json', body: JSON.stringify(manifestJson) },
        { name: 'l0/', type: 'directory' },
        { name: 'l0/layer.tar', body: base!.bytes },
        { name: 'l0/VERSION', body: '1.0' },
        { name: 'l0/json', body: '{}' },
        { name: 'l1/layer.tar', body: own1!.bytes },
        { name: 'l2/layer.tar', type: 'symlink', linkname: '../l0/layer.tar' },
        { name: 'l3/layer.tar', body: own2.bytes },
        { name: 'c1.json', body: one.config.bytes },
        { name: 'c2.json', body: two.config.bytes },
      ]);
      const imported = await readImageArchive(source(tar, 100), b);
      assert.deepEqual(
        imported.map((i) => [i.configDigest, i.names, i.layerDigests]),
        [
          [one.config.digest, ['docker.io/library/busybox:1'], one.layers.map((l) => l.digest)],
          [two.config.digest, ['docker.io/library/other:2'], two.layers.map((l) => l.digest)],
        ],
      );
      const manifest = json(await b.readBytes(imported[0]!.manifestDigest, 1 << 20)) as {
        layers: { mediaType: string }[];
      };
      assert.deepEqual(
        manifest.layers.map((l) => l.mediaType),
        ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
      );
    }));

  it('prefers index.json when a docker 25 archive holds both index.json and manifest.json', () =>
    withStores(async (a, b) => {
      const { one } = await buildImages('none');
      await storeImage(a, one);
      const oci = await tarEntries(
        await capture((out) => writeImageArchive(out, 'oci', [archiveImage(one, [BUSYBOX])], a)),
      );
      const manifestJson = [
        {
          Config: `blobs/sha256/${one.config.digest.slice(7)}`,
          RepoTags: ['busybox:latest'],
          Layers: one.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
        },
      ];
      const tar = await makeTar([
        ...oci.filter((e) => e.type === 'file').map((e) => ({ name: e.name, body: e.body })),
        { name: 'manifest.json', body: JSON.stringify(manifestJson) },
      ]);
      const [image] = await readImageArchive(source(tar), b);
      assert.equal(image?.manifestDigest, one.manifest.digest, 'the real manifest, not a synthesised one');
      assert.deepEqual(image?.names, [BUSYBOX]);
    }));

  it('writes a plain (not gzip-compressed) tar, as docker save does', () =>
    withStores(async (a) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      const bytes = await capture((out) => writeImageArchive(out, 'docker', [archiveImage(one, [BUSYBOX])], a));
      assert.equal(bytes.subarray(257, 262).toString(), 'ustar');
      await assert.rejects(gunzip(bytes));
    }));
});
