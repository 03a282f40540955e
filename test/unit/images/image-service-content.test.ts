// ImageService's admin views and removals: which image names need which blob and layer, and the refusals of
// `berth content rm` (an image needs it, a lease holds it) and `berth snapshots rm` (an image's layer, a pull
// unpacking), with a real content store and SQLite, a fake layer store and puller.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { errorCode } from '../../../src/base/errors.js';
import { ContentStore, LeaseManager } from '../../../src/content/index.js';
import type { BerthEvent } from '../../../src/events/index.js';
import { ImageService, MEDIA_TYPE } from '../../../src/images/index.js';
import type { ImagePuller } from '../../../src/images/index.js';
import { chainIds } from '../../../src/snapshots/index.js';
import { MetadataStore } from '../../../src/store/index.js';

const log = pino({ level: 'silent' });
const nowNs = (): bigint => 1n;
const DIFF_ID = `sha256:${'d'.repeat(64)}`;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return errorCode(err);
  }
  return 'OK';
}

describe('ImageService content and layers', () => {
  let dir: string;
  let store: MetadataStore;
  let content: ContentStore;
  const leases = new LeaseManager();
  const layers: { chainId: string; parent: string | null }[] = [];
  const removedLayers: string[] = [];
  const events: BerthEvent[] = [];
  let isPulling = false;
  let svc: ImageService;
  let blobs: { manifest: string; config: string; layer: string };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-imgsvc-'));
    store = MetadataStore.open(dir, nowNs);
    content = new ContentStore(join(dir, 'content'));
    await content.init();
    const layer = await content.writeBlob(Buffer.from('layer bytes'));
    const configBytes = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [DIFF_ID] } }));
    const config = await content.writeBlob(configBytes);
    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociManifest,
        config: { mediaType: MEDIA_TYPE.ociConfig, digest: config, size: configBytes.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 11 }],
      }),
    );
    const manifest = await content.writeBlob(manifestBytes);
    blobs = { manifest, config, layer };
    const record = {
      targetDigest: manifest,
      targetMediaType: MEDIA_TYPE.ociManifest,
      targetSizeBytes: manifestBytes.length,
      configDigest: config,
      createdAtNs: 1n,
      updatedAtNs: 1n,
      labels: {},
    };
    store.images.putAll([
      { ...record, namespace: 'k8s.io', name: 'docker.io/library/app:1' },
      { ...record, namespace: 'default', name: 'docker.io/library/app:1' },
    ]);
    layers.push(
      { chainId: chainIds([DIFF_ID])[0]!, parent: null },
      { chainId: `sha256:${'e'.repeat(64)}`, parent: null },
    );
    svc = await ImageService.open({
      repo: store.images,
      content,
      leases,
      layers: {
        list: () => layers,
        remove: async (chainId) => {
          removedLayers.push(chainId);
          layers.splice(
            layers.findIndex((l) => l.chainId === chainId),
            1,
          );
        },
      },
      puller: { isPulling: () => isPulling } as unknown as ImagePuller,
      log,
      nowNs,
      events: { publish: (e) => events.push(e) },
    });
  });
  after(async () => {
    store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each blob with the image names that need it', async () => {
    const list = await svc.listContent();
    const refs = (d: string) => list.find((b) => b.digest === d)?.references.map((r) => `${r.namespace} ${r.role}`);
    assert.deepEqual(refs(blobs.manifest)?.sort(), ['default manifest', 'k8s.io manifest']);
    assert.deepEqual(refs(blobs.config)?.sort(), ['default config', 'k8s.io config']);
    assert.deepEqual(refs(blobs.layer)?.sort(), ['default layer', 'k8s.io layer']);
  });

  it('refuses to remove a blob an image needs, or one a lease holds; removes the rest', async () => {
    assert.equal(await codeOf(svc.deleteContent(blobs.layer)), 'FAILED_PRECONDITION');
    const loose = await content.writeBlob(Buffer.from('nobody needs me'));
    const lease = leases.create();
    leases.addResource(lease, loose);
    assert.equal((await svc.listContent()).find((b) => b.digest === loose)?.isLeased, true);
    await assert.rejects(svc.deleteContent(loose), /held by a pull or load in progress/);
    leases.delete(lease);
    await svc.deleteContent(loose);
    assert.equal(await content.has(loose), false);
    assert.equal(await codeOf(svc.deleteContent(loose)), 'NOT_FOUND');
    assert.equal(await codeOf(svc.deleteContent('sha256:short')), 'INVALID_ARGUMENT');
  });

  it('names the images of each layer and refuses to remove theirs, or any while a pull unpacks', async () => {
    const [own, spare] = layers.map((l) => l.chainId) as [string, string];
    assert.equal(svc.layerImages().has(spare), false);
    assert.deepEqual(svc.layerImages().get(own)?.sort(), [
      'default/docker.io/library/app:1',
      'k8s.io/docker.io/library/app:1',
    ]);
    await assert.rejects(svc.removeLayer(own), /is a layer of image ".+" and 1 more: remove the image first/);
    isPulling = true;
    assert.equal(await codeOf(svc.removeLayer(spare)), 'FAILED_PRECONDITION');
    isPulling = false;
    await svc.removeLayer(spare);
    assert.deepEqual(removedLayers, [spare]);
    assert.equal(await codeOf(svc.removeLayer(`sha256:${'f'.repeat(64)}`)), 'NOT_FOUND');
  });

  it('publishes image events: tagged, removed', async () => {
    svc.tag('k8s.io', 'docker.io/library/app:1', 'example.test/app:2');
    await svc.remove('k8s.io', 'example.test/app:2');
    assert.deepEqual(
      events.map((e) => [e.type, e.action, e.namespace, e.fields['name']]),
      [
        ['image', 'tagged', 'k8s.io', 'example.test/app:2'],
        ['image', 'removed', 'k8s.io', 'example.test/app:2'],
      ],
    );
  });
});
