import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImageIndex } from '../../../src/images/image-index.js';
import type { ImageRecord } from '../../../src/store/index.js';

const ID_A = `sha256:${'a'.repeat(63)}1`;
const ID_A2 = `sha256:${'a'.repeat(63)}2`;
const ID_B = `sha256:${'b'.repeat(64)}`;

function rec(name: string, configDigest: string, namespace = 'k8s.io'): ImageRecord {
  return {
    namespace,
    name,
    targetDigest: `sha256:${'c'.repeat(64)}`,
    targetMediaType: 'application/vnd.oci.image.manifest.v1+json',
    targetSizeBytes: 10,
    configDigest,
    createdAtNs: 1n,
    updatedAtNs: 1n,
    labels: {},
  };
}

describe('image index', () => {
  it('groups names by config digest per namespace', () => {
    const idx = new ImageIndex([rec('a:1', ID_A), rec('a:2', ID_A), rec('b:1', ID_B), rec('a:1', ID_A, 'default')]);
    assert.deepEqual(
      idx.list('k8s.io').map((i) => [i.id, i.records.map((r) => r.name)]),
      [
        [ID_A, ['a:1', 'a:2']],
        [ID_B, ['b:1']],
      ],
    );
    assert.equal(idx.list('default').length, 1);
    assert.equal(idx.list('moby').length, 0);
    assert.deepEqual([...idx.allIds()].sort(), [ID_A, ID_B]);
  });

  it('moving a tag to another image updates both groups', () => {
    const idx = new ImageIndex([rec('a:latest', ID_A), rec('a:1', ID_A)]);
    idx.put(rec('a:latest', ID_B));
    assert.deepEqual(
      idx.getById('k8s.io', ID_A)?.records.map((r) => r.name),
      ['a:1'],
    );
    assert.equal(idx.getByName('k8s.io', 'a:latest')?.configDigest, ID_B);
    idx.remove('k8s.io', 'a:1');
    assert.equal(idx.getById('k8s.io', ID_A), undefined, 'an image without names is gone');
    assert.equal(idx.remove('k8s.io', 'a:1'), undefined);
  });

  it('finds images by full id, bare hex and unique prefix', () => {
    const idx = new ImageIndex([rec('a:1', ID_A), rec('a:2', ID_A2), rec('b:1', ID_B)]);
    assert.equal(idx.findById('k8s.io', ID_B)?.id, ID_B);
    assert.equal(idx.findById('k8s.io', 'b'.repeat(64))?.id, ID_B);
    assert.equal(idx.findById('k8s.io', 'bbb')?.id, ID_B);
    assert.equal(idx.findById('k8s.io', 'sha256:bbbb')?.id, ID_B);
    assert.throws(() => idx.findById('k8s.io', 'aaaa'), { code: 'INVALID_ARGUMENT', message: /ambiguous/ });
    assert.equal(idx.findById('k8s.io', 'ccc'), undefined);
    assert.equal(idx.findById('k8s.io', 'ab'), undefined, 'prefixes shorter than 3 are not ids');
    assert.equal(idx.findById('k8s.io', 'busybox'), undefined);
  });
});
