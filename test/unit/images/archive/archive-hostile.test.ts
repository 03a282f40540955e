// Image archives that must be refused (INVALID_ARGUMENT, no image returned), and save failures that must
// not leave a plausible archive behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { MEDIA_TYPE } from '../../../../src/images/index.js';
import { readImageArchive } from '../../../../src/images/archive/archive-reader.js';
import { writeImageArchive } from '../../../../src/images/archive/archive-writer.js';
import { MAX_ARCHIVE_JSON_BYTES } from '../../../../src/images/archive/archive-types.js';
import { buildIndex, descriptorOf } from '../../../harness/oci-image.js';
import { archiveImage, buildImages, capture, makeTar, source, storeImage, withStores } from './archive-fixtures.js';
import type { TarItem } from './archive-fixtures.js';

const LAYOUT: TarItem = { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' };

async function refused(items: readonly TarItem[], message: RegExp): Promise<void> {
  await withStores(async (store) => {
    await assert.rejects(readImageArchive(source(await makeTar(items)), store), { code: 'INVALID_ARGUMENT', message });
  });
}

/** A docker archive of one image whose files are all present; tests break one thing each. */
async function dockerItems(): Promise<{ items: TarItem[]; manifest: object[] }> {
  const { one } = await buildImages('none');
  const manifest = [{ Config: 'c.json', RepoTags: ['x:1'], Layers: one.layers.map((_, i) => `l${i}/layer.tar`) }];
  const items: TarItem[] = [
    { name: 'c.json', body: one.config.bytes },
    ...one.layers.map((l, i) => ({ name: `l${i}/layer.tar`, body: l.bytes })),
  ];
  return { items, manifest };
}

describe('image archive: hostile or broken archives are refused', () => {
  it('refuses ".." and absolute entry names', async () => {
    await refused([{ name: '../evil', body: 'x' }], /climbs out/);
    await refused([{ name: 'a/../../evil', body: 'x' }], /climbs out/);
    await refused([{ name: '/etc/passwd', body: 'x' }], /is absolute/);
  });

  it('refuses symlinks out of the archive, to missing files and to symlinks; hardlinks and devices', async () => {
    await refused([{ name: 'l', type: 'symlink', linkname: '/etc/passwd' }], /points outside/);
    await refused([{ name: 'a/l', type: 'symlink', linkname: '../../etc/passwd' }], /points outside/);
    await refused(
      [
        { name: 'manifest.json', body: '[]' },
        { name: 'l', type: 'symlink', linkname: 'missing' },
      ],
      /symlink l points at no file in the archive/,
    );
    await refused(
      [
        { name: 'f', body: 'x' },
        { name: 'l1', type: 'symlink', linkname: 'f' },
        { name: 'l2', type: 'symlink', linkname: 'l1' },
      ],
      /symlink l2 points at another symlink/,
    );
    await refused(
      [
        { name: 'f', body: 'x' },
        { name: 'h', type: 'link', linkname: 'f' },
      ],
      /is a link/,
    );
    await refused([{ name: 'dev', type: 'character-device' }], /is a character-device/);
  });

  it('refuses duplicate entries, oversized metadata, not-a-tar and truncated tars', async () => {
    await refused(
      [
        { name: 'manifest.json', body: '[]' },
        { name: './manifest.json', body: '[]' },
      ],
      /manifest.json appears twice/,
    );
    await refused([{ name: 'index.json', body: Buffer.alloc(MAX_ARCHIVE_JSON_BYTES + 1, 0x20) }], /over the .* limit/);
    await withStores(async (store) => {
      await assert.rejects(readImageArchive(source(Buffer.from('x'.repeat(2000))), store), {
        code: 'INVALID_ARGUMENT',
        message: /not a readable tar/,
      });
      const tar = await makeTar([{ name: 'manifest.json', body: 'x'.repeat(5000) }]);
      await assert.rejects(readImageArchive(source(tar.subarray(0, 3000)), store), {
        code: 'INVALID_ARGUMENT',
        message: /not a readable tar/,
      });
      await assert.rejects(readImageArchive(source(Buffer.from([0x1f, 0x8b, 1, 2, 3])), store), {
        code: 'INVALID_ARGUMENT',
      });
    });
  });

  it('refuses archives with neither format, or broken metadata', async () => {
    await refused([{ name: 'hello.txt', body: 'hi' }], /neither index.json .* nor manifest.json/);
    await refused([{ name: 'manifest.json', body: '{not json' }], /manifest.json is not valid JSON/);
    await refused([{ name: 'manifest.json', body: '{"a":1}' }], /manifest.json is malformed/);
    await refused([{ name: 'manifest.json', body: '[]' }], /lists no images/);
    await refused([{ name: 'index.json', body: '{"schemaVersion":2,"manifests":[]}' }], /oci-layout/);
    await refused(
      [
        { name: 'oci-layout', body: '{"imageLayoutVersion":"9"}' },
        { name: 'index.json', body: '{"schemaVersion":2,"manifests":[]}' },
      ],
      /imageLayoutVersion "1.0.0"/,
    );
  });

  it('refuses a manifest.json naming files that are not in the archive, and a layer that lies', async () => {
    const { items, manifest } = await dockerItems();
    await refused(
      [...items, { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], Config: 'nope.json' }]) }],
      /names "nope.json", which is not in the archive/,
    );
    await refused(
      [...items, { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], Layers: ['../../etc/passwd'] }]) }],
      /climbs out/,
    );
    await refused(
      [...items, { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], Layers: ['l0/layer.tar'] }]) }],
      /lists 1 layers but the config lists 2 diff_ids/,
    );
    await refused(
      [
        ...items,
        { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], Layers: ['l1/layer.tar', 'l0/layer.tar'] }]) },
      ],
      /does not match its diff_id/,
    );
    await refused(
      [...items, { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], RepoTags: ['UPPER:case'] }]) }],
      /bad RepoTags entry/,
    );
  });

  it('refuses OCI blobs that do not hash to their name, missing blobs and wrong sizes', async () => {
    const { one } = await buildImages();
    const blobs = [one.config, ...one.layers, one.manifest];
    const blobItems = blobs.map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, body: b.bytes }));
    const index = (desc: object): TarItem => ({
      name: 'index.json',
      body: JSON.stringify({ schemaVersion: 2, manifests: [desc] }),
    });
    await refused(
      [
        LAYOUT,
        { name: blobItems[0]!.name, body: 'tampered' },
        ...blobItems.slice(1),
        index(descriptorOf(one.manifest)),
      ],
      /does not hash to its name/,
    );
    await refused(
      [
        LAYOUT,
        ...blobItems.filter((b) => !b.name.endsWith(one.layers[1]!.digest.slice(7))),
        index(descriptorOf(one.manifest)),
      ],
      new RegExp(`blob ${one.layers[1]!.digest} is not in the archive`),
    );
    await refused(
      [LAYOUT, ...blobItems, index({ ...descriptorOf(one.manifest), size: one.manifest.size + 1 })],
      /its descriptor says/,
    );
    await refused(
      [
        LAYOUT,
        ...blobItems,
        index({ ...descriptorOf(one.manifest), annotations: { 'io.containerd.image.name': 'Bad Name' } }),
      ],
      /bad image name in index.json/,
    );
    const nested = buildIndex([descriptorOf(one.manifest, { platform: one.platform })]);
    const loop = buildIndex([descriptorOf(nested, { platform: one.platform })]);
    await refused(
      [
        LAYOUT,
        ...blobItems,
        { name: `blobs/sha256/${nested.digest.slice(7)}`, body: nested.bytes },
        { name: `blobs/sha256/${loop.digest.slice(7)}`, body: loop.bytes },
        index(descriptorOf(loop)),
      ],
      /index points at an index/,
    );
  });

  it('returns no image and records nothing for a refused archive; its blobs are only content', () =>
    withStores(async (store) => {
      const { items, manifest } = await dockerItems();
      const bad = [...items, { name: 'manifest.json', body: JSON.stringify([{ ...manifest[0], Config: 'x' }]) }];
      await assert.rejects(readImageArchive(source(await makeTar(bad)), store), { code: 'INVALID_ARGUMENT' });
      const docs = await Promise.all(
        (await store.list()).map(async (b) => (await store.readBytes(b.digest, 1 << 30)).toString('utf8')),
      );
      assert.ok(!docs.some((d) => d.includes(MEDIA_TYPE.dockerManifest)), 'no manifest was made');
    }));
});

describe('image archive: save failures', () => {
  it('refuses a missing blob or an index before writing a byte', () =>
    withStores(async (a) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      await a.delete(one.layers[1]!.digest);
      const out = new PassThrough();
      let written = 0;
      out.on('data', (c: Buffer) => (written += c.length));
      await assert.rejects(writeImageArchive(out, 'docker', [archiveImage(one, [])], a), {
        code: 'FAILED_PRECONDITION',
        message: /is missing/,
      });
      const idx = buildIndex([descriptorOf(one.manifest, { platform: one.platform })]);
      await a.writeBlob(idx.bytes);
      await assert.rejects(
        writeImageArchive(
          out,
          'oci',
          [{ names: [], manifestDigest: idx.digest, manifestMediaType: idx.mediaType, manifestSizeBytes: idx.size }],
          a,
        ),
        { code: 'FAILED_PRECONDITION', message: /is an index/ },
      );
      await assert.rejects(writeImageArchive(out, 'oci', [], a), { code: 'INVALID_ARGUMENT' });
      assert.equal(written, 0);
    }));

  it('reports a failing output as UNAVAILABLE with its cause', () =>
    withStores(async (a) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      let seen = 0;
      const out = new Writable({
        write(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          cb(seen > 2048 ? new Error('disk full') : null);
        },
      });
      await assert.rejects(writeImageArchive(out, 'docker', [archiveImage(one, ['docker.io/library/x:1'])], a), {
        code: 'UNAVAILABLE',
        message: /disk full/,
      });
    }));

  it('stops when the signal aborts', () =>
    withStores(async (a) => {
      const { one } = await buildImages();
      await storeImage(a, one);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        capture((out) => writeImageArchive(out, 'oci', [archiveImage(one, [])], a, { signal: ac.signal })),
        { code: 'CANCELLED' },
      );
    }));
});
