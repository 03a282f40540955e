import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  familiarName,
  looksLikeImageId,
  nameWithDigest,
  nameWithTag,
  parseReference,
  referenceString,
} from '../../../src/images/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

// input -> [domain, path, tag, digest]
const VALID: [string, string, string, string | undefined, string | undefined][] = [
  ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
  ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
  ['library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
  ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
  ['docker.io/library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
  ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
  ['user/app', 'docker.io', 'user/app', 'latest', undefined],
  ['user/app:v1.2.3-rc_1', 'docker.io', 'user/app', 'v1.2.3-rc_1', undefined],
  ['localhost/app', 'localhost', 'app', 'latest', undefined],
  ['localhost:5000/app:1', 'localhost:5000', 'app', '1', undefined],
  ['127.0.0.1:5000/berth-test/busybox:1.0', '127.0.0.1:5000', 'berth-test/busybox', '1.0', undefined],
  ['registry.k8s.io/pause:3.6', 'registry.k8s.io', 'pause', '3.6', undefined],
  ['registry.k8s.io/e2e-test-images/busybox:1.29-2', 'registry.k8s.io', 'e2e-test-images/busybox', '1.29-2', undefined],
  ['gcr.io/k8s-staging-cri-tools/test-image-tags:1', 'gcr.io', 'k8s-staging-cri-tools/test-image-tags', '1', undefined],
  [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D],
  [`busybox:1@${D}`, 'docker.io', 'library/busybox', '1', D],
  [`quay.io/a/b/c@${D}`, 'quay.io', 'a/b/c', undefined, D],
  ['my-registry.example.com:443/team/app:tag', 'my-registry.example.com:443', 'team/app', 'tag', undefined],
  ['a.b/c__d/e-f.g:T_1', 'a.b', 'c__d/e-f.g', 'T_1', undefined],
  ['foo_bar', 'docker.io', 'library/foo_bar', 'latest', undefined],
  ['foo--bar', 'docker.io', 'library/foo--bar', 'latest', undefined],
  ['example.com/UPPERTAG:Ok'.toLowerCase(), 'example.com', 'uppertag', 'ok', undefined],
  ['host:5000/x:' + 'a'.repeat(128), 'host:5000', 'x', 'a'.repeat(128), undefined],
];

const INVALID = [
  '',
  ' ',
  'Busybox',
  'docker.io/Library/busybox',
  'busybox:',
  'busybox:-tag',
  'busybox:.tag',
  `busybox:${'a'.repeat(129)}`,
  'busybox@sha256:abc',
  `busybox@sha256:${'A'.repeat(64)}`,
  `busybox@md5:${'a'.repeat(32)}`,
  'a'.repeat(64),
  '/busybox',
  'busybox/',
  'a//b',
  '-host.io/x',
  'foo_-bar',
  'foo..bar',
  '.foo',
  'foo.',
  'host.io/../etc',
  'host.io/a/./b',
  `host.io/${'a'.repeat(250)}`,
  'busybox:tag:tag',
];

describe('image references', () => {
  for (const [input, domain, path, tag, digest] of VALID) {
    it(`parses ${JSON.stringify(input)}`, () => {
      const ref = parseReference(input);
      assert.deepEqual(
        { domain: ref.domain, path: ref.path, tag: ref.tag, digest: ref.digest },
        { domain, path, tag, digest },
      );
      assert.equal(ref.repository, `${domain}/${path}`);
    });
  }

  for (const input of INVALID) {
    it(`rejects ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)} as INVALID_ARGUMENT`, () => {
      assert.throws(() => parseReference(input), { code: 'INVALID_ARGUMENT' });
    });
  }

  it('builds the CRI repo tag and repo digest names', () => {
    const ref = parseReference('busybox');
    assert.equal(nameWithTag(ref), 'docker.io/library/busybox:latest');
    assert.equal(nameWithDigest(ref, D), `docker.io/library/busybox@${D}`);
    assert.equal(nameWithTag(parseReference(`busybox@${D}`)), undefined);
    assert.equal(referenceString(parseReference(`busybox:1@${D}`)), `docker.io/library/busybox:1@${D}`);
  });

  it('gives docker-style familiar names', () => {
    assert.equal(familiarName(parseReference('docker.io/library/busybox')), 'busybox:latest');
    assert.equal(familiarName(parseReference('user/app:1')), 'user/app:1');
    assert.equal(familiarName(parseReference('127.0.0.1:5000/x:1')), '127.0.0.1:5000/x:1');
  });

  it('tells image ids from names', () => {
    assert.equal(looksLikeImageId(D), true);
    assert.equal(looksLikeImageId('a'.repeat(64)), true);
    assert.equal(looksLikeImageId('busybox'), false);
    assert.equal(looksLikeImageId('sha256:abc'), false);
  });
});
