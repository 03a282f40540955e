import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  hostPlatform,
  parseImageConfig,
  parseManifestDocument,
  selectManifest,
  MEDIA_TYPE,
} from '../../../src/images/index.js';
import type { Descriptor } from '../../../src/images/index.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const desc = (arch: string, variant?: string): Descriptor => ({
  mediaType: MEDIA_TYPE.ociManifest,
  digest: D(arch.length % 2 ? 'a' : 'b'),
  size: 1,
  platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) },
});

describe('manifests', () => {
  it('parses an OCI manifest and a Docker manifest list', () => {
    const m = parseManifestDocument(
      json({ schemaVersion: 2, config: { mediaType: MEDIA_TYPE.ociConfig, digest: D('c'), size: 2 }, layers: [] }),
      MEDIA_TYPE.ociManifest,
      'm',
    );
    assert.equal(m.kind, 'manifest');
    const i = parseManifestDocument(
      json({ schemaVersion: 2, mediaType: MEDIA_TYPE.dockerList, manifests: [desc('amd64')] }),
      '',
      'i',
    );
    assert.equal(i.kind, 'index');
  });

  it('refuses schema 1 with a clear message', () => {
    assert.throws(
      () =>
        parseManifestDocument(
          json({ schemaVersion: 1, name: 'x', fsLayers: [] }),
          MEDIA_TYPE.dockerSchema1Signed,
          'old',
        ),
      { code: 'FAILED_PRECONDITION', message: /schema 1 manifest, which is not supported/ },
    );
  });

  it('refuses malformed documents naming what was parsed', () => {
    assert.throws(() => parseManifestDocument(Buffer.from('{'), '', 'image "x"'), {
      code: 'INVALID_ARGUMENT',
      message: /image "x" is not valid JSON/,
    });
    assert.throws(
      () =>
        parseManifestDocument(
          json({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:../../x', size: 1 }, layers: [] }),
          '',
          'm',
        ),
      { code: 'INVALID_ARGUMENT', message: /malformed manifest/ },
    );
    assert.throws(() => parseImageConfig(json({ rootfs: { type: 'layers', diff_ids: ['nope'] } }), 'cfg'), {
      code: 'INVALID_ARGUMENT',
    });
  });

  it('selects this platform, with arm64 variant rules, and lists what exists when none fits', () => {
    assert.deepEqual(hostPlatform('x64'), { os: 'linux', architecture: 'amd64' });
    const list = [desc('s390x'), desc('arm64'), desc('amd64')];
    assert.equal(selectManifest(list, { os: 'linux', architecture: 'amd64' }, 'i').platform?.architecture, 'amd64');
    assert.equal(selectManifest(list, hostPlatform('arm64'), 'i').platform?.architecture, 'arm64');
    assert.equal(selectManifest([desc('arm64', 'v8')], hostPlatform('arm64'), 'i').platform?.variant, 'v8');
    assert.throws(
      () => selectManifest([desc('s390x'), desc('arm', 'v6')], { os: 'linux', architecture: 'amd64' }, 'idx'),
      {
        code: 'NOT_FOUND',
        message: /no manifest for linux\/amd64 in idx; available: linux\/s390x, linux\/arm\/v6/,
      },
    );
  });
});
