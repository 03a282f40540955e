// berth pull / images / inspecti / rmi / imagefsinfo against a real berthd and registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('berth image commands', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let images: TestImages;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
    // docker.io is mirrored to the local registry, so short names work offline.
    berthd = await startBerthd({
      extraToml: `[plugins.cri.registry.mirrors."docker.io"]\nendpoint = ["${registry.url}"]\n`,
    });
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args]);

  it('pulls through a mirror with a short name and lists the image', () => {
    const pulled = berth('pull', 'berth-test/busybox:1.0');
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.match(pulled.stdout, new RegExp(`Image is up to date for ${images.busybox.configDigest}`));
    const list = berth('images');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/m);
    assert.match(
      list.stdout,
      new RegExp(`^docker.io/berth-test/busybox\\s+1.0\\s+${images.busybox.configDigest.slice(7, 20)}\\s+\\S+B$`, 'm'),
    );
    assert.equal(berth('images', '-q').stdout.trim(), images.busybox.configDigest);
  });

  it('inspecti shows status and config as JSON', () => {
    const res = berth('inspecti', 'berth-test/busybox:1.0');
    assert.equal(res.status, 0, res.stderr);
    const doc = JSON.parse(res.stdout) as {
      status: { id: string };
      info: { imageSpec: { config: { Env: string[] } } };
    };
    assert.equal(doc.status.id, images.busybox.configDigest);
    assert.ok(doc.info.imageSpec.config.Env.includes('BERTH_TEST=1'));
  });

  it('imagefsinfo reports usage', () => {
    const res = berth('imagefsinfo');
    assert.equal(res.status, 0, res.stderr);
    const [fs] = JSON.parse(res.stdout) as { usedBytes: { value: string } }[];
    assert.ok(Number(fs?.usedBytes.value) > 0);
  });

  it('rmi removes, and names a missing image in one line', () => {
    const res = berth('rmi', 'berth-test/busybox:1.0');
    assert.equal(res.status, 0, res.stderr);
    assert.equal(berth('images', '-q').stdout.trim(), '');
    const again = berth('rmi', 'berth-test/busybox:1.0');
    assert.equal(again.status, 1);
    assert.equal(again.stderr.trim(), 'berth: no such image: berth-test/busybox:1.0');
  });

  it('a bad reference is INVALID_ARGUMENT in one line', () => {
    const res = berth('pull', 'Bad/Name');
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^berth: INVALID_ARGUMENT: invalid image reference "Bad\/Name"/);
  });
});
