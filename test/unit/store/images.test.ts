import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataStore } from '../../../src/store/index.js';
import type { ImageRecord } from '../../../src/store/index.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

function record(name: string, over: Partial<ImageRecord> = {}): ImageRecord {
  return {
    namespace: 'k8s.io',
    name,
    targetDigest: DIGEST_A,
    targetMediaType: 'application/vnd.oci.image.manifest.v1+json',
    targetSizeBytes: 123,
    configDigest: DIGEST_B,
    createdAtNs: 1n,
    updatedAtNs: 1n,
    labels: {},
    ...over,
  };
}

describe('image repository', () => {
  it('stores, updates and deletes names per namespace; a namespace with images cannot be removed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-images-'));
    try {
      const store = MetadataStore.open(root, () => 5n);
      store.namespaces.create('team');
      store.images.putAll([record('docker.io/library/busybox:latest'), record('x:1', { namespace: 'team' })]);
      store.images.putAll([
        record('docker.io/library/busybox:latest', { targetSizeBytes: 9, createdAtNs: 7n, updatedAtNs: 8n }),
      ]);
      const all = store.images.all();
      assert.equal(all.length, 2);
      const busybox = all.find((r) => r.namespace === 'k8s.io');
      assert.equal(busybox?.targetSizeBytes, 9);
      assert.equal(busybox?.createdAtNs, 1n, 'an update keeps the creation time');
      assert.equal(busybox?.updatedAtNs, 8n);
      assert.throws(() => store.namespaces.remove('team'), { code: 'FAILED_PRECONDITION', message: /not empty/ });
      assert.equal(store.images.deleteAll('team', ['x:1', 'missing']), 1);
      store.namespaces.remove('team');
      store.close();
      const reopened = MetadataStore.open(root, () => 5n);
      assert.deepEqual(
        reopened.images.all().map((r) => r.name),
        ['docker.io/library/busybox:latest'],
      );
      reopened.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
