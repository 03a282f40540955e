// The deterministic parts of the in-memory OCI image builder: same inputs give the same bytes and digests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import type { Header } from 'tar-stream';
import {
  buildImage,
  buildIndex,
  buildLayer,
  buildLayerTar,
  descriptorOf,
  gzipDeterministic,
  MEDIA_TYPE_CONFIG,
  MEDIA_TYPE_INDEX,
  MEDIA_TYPE_LAYER,
  MEDIA_TYPE_LAYER_GZIP,
  MEDIA_TYPE_MANIFEST,
  ociArchitecture,
  sha256Digest,
} from '../../harness/oci-image.js';
import type { LayerEntry } from '../../harness/oci-image.js';

const ENTRIES: readonly LayerEntry[] = [
  { type: 'dir', path: '/data' },
  { type: 'file', path: '/data/keep.txt', content: 'keep\n', uid: 1000, gid: 3000 },
  { type: 'symlink', path: 'data/link', target: 'keep.txt' },
  { type: 'hardlink', path: 'data/hard', target: '/data/keep.txt' },
  { type: 'file', path: 'bin/suid', content: 'x', mode: 0o4755 },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'file', path: 'data/.wh.gone.txt', content: '' },
];

async function readHeaders(tar: Buffer): Promise<Header[]> {
  const headers: Header[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      headers.push(entry.header);
      entry.resume();
    }
  })();
  ex.end(tar);
  await done;
  return headers;
}

function json(bytes: Buffer): unknown {
  return JSON.parse(bytes.toString('utf8'));
}

describe('oci-image', () => {
  it('builds the same tar and gzip bytes for the same entries', async () => {
    const [a, b] = await Promise.all([buildLayer(ENTRIES), buildLayer(ENTRIES)]);
    assert.equal(a.digest, b.digest);
    assert.equal(a.diffId, b.diffId);
    assert.deepEqual(a.bytes, b.bytes);
  });

  it('gives a gzip layer a diff_id (uncompressed) different from its blob digest', async () => {
    const layer = await buildLayer(ENTRIES);
    assert.equal(layer.mediaType, MEDIA_TYPE_LAYER_GZIP);
    assert.notEqual(layer.diffId, layer.digest);
    const tar = gunzipSync(layer.bytes);
    assert.equal(layer.diffId, sha256Digest(tar));
    assert.equal(layer.uncompressedSize, tar.length);
    assert.equal(layer.digest, `sha256:${createHash('sha256').update(layer.bytes).digest('hex')}`);
    assert.equal(layer.size, layer.bytes.length);
  });

  it('gives an uncompressed layer the same diff_id and digest', async () => {
    const layer = await buildLayer(ENTRIES, 'none');
    assert.equal(layer.mediaType, MEDIA_TYPE_LAYER);
    assert.equal(layer.diffId, layer.digest);
    assert.equal(layer.diffId, (await buildLayer(ENTRIES)).diffId);
  });

  it('writes a gzip header with MTIME 0', async () => {
    const gz = await gzipDeterministic(Buffer.from('hello'));
    assert.deepEqual([...gz.subarray(0, 3)], [0x1f, 0x8b, 8]);
    assert.equal(gz.readUInt32LE(4), 0);
  });

  it('writes tar headers with fixed metadata, relative names and link targets', async () => {
    const headers = await readHeaders(await buildLayerTar(ENTRIES));
    assert.deepEqual(
      headers.map((h) => [h.name, h.type, h.mode, h.uid, h.gid, h.linkname || null]),
      [
        ['data/', 'directory', 0o755, 0, 0, null],
        ['data/keep.txt', 'file', 0o644, 1000, 3000, null],
        ['data/link', 'symlink', 0o777, 0, 0, 'keep.txt'],
        ['data/hard', 'link', 0o644, 0, 0, 'data/keep.txt'],
        ['bin/suid', 'file', 0o4755, 0, 0, null],
        ['tmp/', 'directory', 0o1777, 0, 0, null],
        ['data/.wh.gone.txt', 'file', 0o644, 0, 0, null],
      ],
    );
    for (const h of headers) assert.equal(h.mtime.toISOString(), '2024-01-01T00:00:00.000Z');
  });

  it('builds config, manifest and index with the OCI media types and stable digests', async () => {
    const layer = await buildLayer(ENTRIES);
    const opts = { cmd: ['/bin/sh'], env: ['A=1'], user: 'app', labels: { k: 'v' }, stopSignal: 'SIGTERM' };
    const image = buildImage([layer], opts);
    assert.equal(image.manifest.digest, buildImage([layer], opts).manifest.digest);
    assert.notEqual(image.manifest.digest, buildImage([layer], { ...opts, user: 'root' }).manifest.digest);
    assert.deepEqual(json(image.config.bytes), {
      created: '2024-01-01T00:00:00Z',
      architecture: ociArchitecture(),
      os: 'linux',
      config: { User: 'app', Env: ['A=1'], Cmd: ['/bin/sh'], Labels: { k: 'v' }, StopSignal: 'SIGTERM' },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'layer 1' }],
    });
    assert.deepEqual(json(image.manifest.bytes), {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_MANIFEST,
      config: { mediaType: MEDIA_TYPE_CONFIG, digest: image.config.digest, size: image.config.size },
      layers: [{ mediaType: MEDIA_TYPE_LAYER_GZIP, digest: layer.digest, size: layer.size }],
    });
    const platform = { architecture: 's390x', os: 'linux' };
    const index = buildIndex([descriptorOf(image.manifest, { platform })]);
    assert.equal(index.mediaType, MEDIA_TYPE_INDEX);
    assert.deepEqual(json(index.bytes), {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_INDEX,
      manifests: [
        { mediaType: MEDIA_TYPE_MANIFEST, digest: image.manifest.digest, size: image.manifest.size, platform },
      ],
    });
  });

  it('maps Node architectures to OCI names', () => {
    assert.equal(ociArchitecture('x64'), 'amd64');
    assert.equal(ociArchitecture('arm64'), 'arm64');
    assert.equal(ociArchitecture('s390x'), 's390x');
  });
});
