// berth pull / tag / prune / images / inspecti / rmi / imagefsinfo against a real berthd and registry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // Not a terminal: one progress line per layer state change, ending with every layer unpacked.
    for (const layer of images.busybox.layers) {
      const short = layer.digest.slice(7, 19);
      assert.match(pulled.stderr, new RegExp(`^${short}: waiting `, 'm'));
      assert.match(pulled.stderr, new RegExp(`^${short}: downloaded `, 'm'));
      assert.match(pulled.stderr, new RegExp(`^${short}: unpacked `, 'm'));
    }
    assert.ok(!pulled.stderr.includes('\u001b['), 'no terminal escapes when stderr is not a TTY');
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

  it('tag adds a name; a second pull of a shared image reports its layers as already there', () => {
    const tagged = berth('tag', 'berth-test/busybox:1.0', 'example.test/tools/box:v1');
    assert.equal(tagged.status, 0, tagged.stderr);
    assert.match(berth('images').stdout, /^example.test\/tools\/box\s+v1\s+/m);
    const missing = berth('tag', 'no-such-image:1', 'x:1');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^berth: NOT_FOUND: image "no-such-image:1" not found/);
    const user = berth('pull', 'berth-test/busybox-user:latest'); // same layers, other config
    assert.equal(user.status, 0, user.stderr);
    assert.match(user.stderr, new RegExp(`^${images.busybox.layers[0]!.digest.slice(7, 19)}: exists `, 'm'));
    assert.equal(berth('rmi', 'berth-test/busybox-user:latest').status, 0);
  });

  it('push sends an image to another repository; a pull of it gives the same image', () => {
    const target = `${registry.host}/pushed/busybox:v1`;
    const pushed = berth('push', 'berth-test/busybox:1.0', target);
    assert.equal(pushed.status, 0, pushed.stderr);
    assert.match(pushed.stdout, new RegExp(`^Pushed ${target} \\(sha256:[0-9a-f]{64}\\)$`, 'm'));
    assert.match(pushed.stderr, /: done /);
    const back = berth('pull', target);
    assert.equal(back.status, 0, back.stderr);
    assert.match(back.stdout, new RegExp(images.busybox.configDigest));
    const again = berth('push', target);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /: exists /, 'a second push finds every blob there');
    const missing = berth('push', 'no-such:1', target);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^berth: NOT_FOUND: image "no-such:1" not found/);
    assert.equal(berth('rmi', target).status, 0);
  });

  it('save and load round-trip images in docker and OCI archives', () => {
    assert.equal(berth('pull', 'berth-test/other:1').status, 0);
    for (const format of ['docker', 'oci']) {
      const file = join(berthd.dir, `other-${format}.tar`);
      const saved = berth('save', '--format', format, '-o', file, 'berth-test/other:1');
      assert.equal(saved.status, 0, saved.stderr);
      assert.ok(statSync(file).size > 0);
      assert.equal(berth('rmi', 'berth-test/other:1').status, 0);
      const loaded = berth('load', '-i', file);
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.equal(loaded.stdout.trim(), 'Loaded image: docker.io/berth-test/other:1');
      assert.equal(
        berth('images', '-q', 'berth-test/other:1').stdout.trim(),
        images.other1.configDigest,
        `${format}: the same image id after the round trip`,
      );
    }
    const byId = join(berthd.dir, 'by-id.tar');
    assert.equal(berth('save', '-o', byId, images.other1.configDigest).status, 0);
    assert.equal(berth('rmi', 'berth-test/other:1').status, 0);
    const untagged = berth('load', '-i', byId);
    assert.equal(untagged.status, 0, untagged.stderr);
    assert.equal(untagged.stdout.trim(), `Loaded image ID: ${images.other1.configDigest}`);
    assert.equal(berth('rmi', images.other1.configDigest).status, 0);
    const missing = berth('save', '-o', join(berthd.dir, 'x.tar'), 'no-such:1');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^berth: NOT_FOUND: image "no-such:1" not found/);
    assert.ok(!existsSync(join(berthd.dir, 'x.tar')) && !existsSync(join(berthd.dir, 'x.tar.partial')));
    const garbage = join(berthd.dir, 'garbage.tar');
    writeFileSync(garbage, 'not an archive at all');
    const bad = berth('load', '-i', garbage);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^berth: INVALID_ARGUMENT: /);
  });

  it('rmi --prune removes images no container uses, and prune reports what it freed', () => {
    assert.equal(berth('pull', 'berth-test/other:1').status, 0);
    const pruned = berth('rmi', '--prune');
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`^Deleted: ${images.other1.configDigest}$`, 'm'));
    assert.match(pruned.stdout, /^Removed \d+ blobs and \d+ unpacked layers, \S+ freed$/m);
    assert.equal(berth('images', '-q').stdout.trim(), '');
    const again = berth('prune');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^Removed 0 blobs and 0 unpacked layers, 0B freed$/m);
    assert.equal(berth('pull', 'berth-test/busybox:1.0').status, 0);
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

  it('keeps images per namespace: the same name in two namespaces is two records', () => {
    const ref = 'berth-test/other:2';
    assert.equal(berth('pull', ref).status, 0);
    assert.equal(berth('-n', 'default', 'pull', ref).status, 0);
    assert.equal(berth('-n', 'default', 'images', '-q').stdout.trim(), images.other2.configDigest);
    const inUse = berth('namespaces', 'rm', 'default');
    assert.equal(inUse.status, 1);
    assert.equal(berth('-n', 'default', 'rmi', ref).status, 0);
    assert.equal(berth('-n', 'default', 'images', '-q').stdout.trim(), '');
    assert.match(berth('images', '-q').stdout, new RegExp(images.other2.configDigest), 'k8s.io keeps its record');
    const unknown = berth('-n', 'no-such-ns', 'images');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^berth: NOT_FOUND: namespace "no-such-ns" not found/);
    assert.equal(berth('rmi', ref).status, 0);
  });
});
