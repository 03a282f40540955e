// ImagePusher and the registry client's push side against real docker-registry instances on 127.0.0.1:
// to another repository (cross-repository mount), to a second registry (uploads), skipping blobs that
// exist, an image index, Basic auth (htpasswd), and a TLS registry with a self-signed certificate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../../src/content/index.js';
import { ImagePusher } from '../../../src/images/image-push.js';
import type { PushProgress } from '../../../src/images/image-push.js';
import { parseManifestDocument } from '../../../src/images/manifest.js';
import { parseReference } from '../../../src/images/reference.js';
import { RegistryClient } from '../../../src/images/registry/registry-client.js';
import type { RegistryClientConfig, Repository } from '../../../src/images/registry/registry-client.js';
import { buildImage, buildLayer } from '../../harness/oci-image.js';
import { htpasswdSkipReason, registrySkipReason, startRegistry, tlsSkipReason } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = await registrySkipReason();
const authSkip = await htpasswdSkipReason();
const tlsSkip = await tlsSkipReason();
for (const [what, why] of [
  ['image push', skip],
  ['push with auth', authSkip],
  ['push over TLS', tlsSkip],
] as const) {
  if (why !== undefined) console.log(`skipping ${what} tests: ${why}`);
}

interface Logged {
  readonly method: string;
  readonly url: string;
}

/** The global fetch, recording each request it makes: how the tests count what a push sent. */
function recordingFetch(log: Logged[]): typeof fetch {
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    log.push({ method: init?.method ?? 'GET', url });
    return fetch(input, init);
  };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Copies a manifest and every blob it names from a registry into the content store. */
async function pullInto(
  client: RegistryClient,
  content: ContentStore,
  repo: Repository,
  reference: string,
): Promise<{ digest: string; mediaType: string; blobs: string[] }> {
  const m = await client.fetchManifest(repo, reference);
  await content.writeBlob(m.bytes, m.digest);
  const doc = parseManifestDocument(m.bytes, m.mediaType, reference);
  if (doc.kind !== 'manifest') return { digest: m.digest, mediaType: m.mediaType, blobs: [] };
  const descs = [doc.manifest.config, ...doc.manifest.layers];
  for (const d of descs) {
    await content.writeFrom(`test-${d.digest}`, { digest: d.digest, sizeBytes: d.size }, (offset) =>
      client.fetchBlob(repo, d.digest, { offset }),
    );
  }
  return { digest: m.digest, mediaType: m.mediaType, blobs: descs.map((d) => d.digest) };
}

/** Pulls a tag back with a fresh client and checks the manifest digest and every blob's bytes. */
async function assertPullable(
  config: RegistryClientConfig,
  repo: Repository,
  tag: string,
  digest: string,
  opts: { credentials?: { username: string; password: string } } = {},
): Promise<void> {
  const client = new RegistryClient(config);
  try {
    const m = await client.fetchManifest(repo, tag, opts);
    assert.equal(m.digest, digest);
    const doc = parseManifestDocument(m.bytes, m.mediaType, tag);
    if (doc.kind !== 'manifest') return;
    for (const d of [doc.manifest.config, ...doc.manifest.layers]) {
      const blob = await client.fetchBlob(repo, d.digest, opts);
      assert.equal(sha256(await collect(blob.body)), d.digest);
    }
  } finally {
    await client.close();
  }
}

/** The last event of each blob, by digest. */
function finalStates(events: readonly PushProgress[]): Map<string, PushProgress> {
  const last = new Map<string, PushProgress>();
  for (const e of events) last.set(e.digest, e);
  return last;
}

describe('image push', { skip, timeout: 180_000 }, () => {
  let source: Registry;
  let second: Registry;
  let images: TestImages;
  let dir: string;
  let content: ContentStore;
  let busybox: { digest: string; mediaType: string; blobs: string[] };
  const sourceRepo = (): Repository => ({ domain: source.host, path: 'berth-test/busybox' });

  before(async () => {
    [source, second] = await Promise.all([startRegistry(), startRegistry()]);
    images = await buildTestImages(source);
    dir = await mkdtemp(join(tmpdir(), 'berth-push-'));
    content = new ContentStore(join(dir, 'content'));
    await content.init();
    const client = new RegistryClient({ mirrors: {} });
    busybox = await pullInto(client, content, sourceRepo(), 'latest');
  });
  after(async () => {
    await content?.close();
    await Promise.all([source?.stop(), second?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('mounts every blob when pushing to another repository of the same registry', async () => {
    const log: Logged[] = [];
    const client = new RegistryClient({ mirrors: {}, fetch: recordingFetch(log) });
    const events: PushProgress[] = [];
    const pushed = await new ImagePusher(client, content, 3).push({
      target: parseReference(`${source.host}/copies/busybox:v1`),
      manifestDigest: busybox.digest,
      manifestMediaType: busybox.mediaType,
      sourceRepository: sourceRepo(),
      onProgress: (e) => events.push(e),
    });
    assert.equal(pushed.digest, images.busybox.manifestDigest);
    assert.equal(pushed.reference, `${source.host}/copies/busybox:v1`);
    const states = finalStates(events);
    assert.deepEqual([...states.keys()].sort(), [...busybox.blobs].sort());
    for (const e of states.values()) assert.equal(e.state, 'mounted', `blob ${e.digest}`);
    const mounts = log.filter((l) => l.method === 'POST' && l.url.includes('mount='));
    assert.equal(mounts.length, busybox.blobs.length);
    assert.ok(mounts.every((l) => new URL(l.url).searchParams.get('from') === 'berth-test/busybox'));
    assert.equal(log.filter((l) => l.method === 'PUT' && l.url.includes('/blobs/')).length, 0, 'no blob upload');
    await assertPullable({ mirrors: {} }, { domain: source.host, path: 'copies/busybox' }, 'v1', pushed.digest);
  });

  it('uploads to a second registry, then skips every blob it has', async () => {
    const target = { domain: second.host, path: 'mirror/busybox' };
    const log: Logged[] = [];
    const client = new RegistryClient({ mirrors: {}, fetch: recordingFetch(log) });
    const events: PushProgress[] = [];
    const pusher = new ImagePusher(client, content, 2);
    const pushed = await pusher.push({
      target: parseReference(`${second.host}/mirror/busybox:latest`),
      manifestDigest: busybox.digest,
      manifestMediaType: busybox.mediaType,
      sourceRepository: sourceRepo(), // on another registry: no mount is tried
      onProgress: (e) => events.push(e),
    });
    assert.equal(pushed.digest, images.busybox.manifestDigest);
    for (const e of finalStates(events).values()) {
      assert.equal(e.state, 'done', `blob ${e.digest}`);
      assert.equal(e.bytesSent, e.totalBytes);
    }
    const firstLayer = images.busybox.layers[0]!;
    const uploading = events.filter((e) => e.digest === firstLayer.digest && e.state === 'uploading');
    assert.ok(uploading.length >= 2, 'progress while the big layer uploads');
    assert.equal(log.filter((l) => l.url.includes('mount=')).length, 0);
    assert.equal(log.filter((l) => l.method === 'PUT' && l.url.includes('/blobs/')).length, busybox.blobs.length);
    await assertPullable({ mirrors: {} }, target, 'latest', pushed.digest);

    log.length = 0;
    events.length = 0;
    const again = await pusher.push({
      target: parseReference(`${second.host}/mirror/busybox:again`),
      manifestDigest: busybox.digest,
      manifestMediaType: busybox.mediaType,
      onProgress: (e) => events.push(e),
    });
    assert.equal(again.digest, pushed.digest);
    for (const e of finalStates(events).values()) assert.equal(e.state, 'exists', `blob ${e.digest}`);
    assert.deepEqual(
      log.map((l) => l.method),
      [...busybox.blobs.map(() => 'HEAD'), 'PUT'],
      'only HEADs and the manifest PUT',
    );
    await assertPullable({ mirrors: {} }, target, 'again', pushed.digest);
  });

  it('pushes an image built into the content store, by tag and by digest', async () => {
    const layer = await buildLayer([{ type: 'file', path: 'hello.txt', content: `built ${Date.now()}\n` }]);
    const image = buildImage([layer], { cmd: ['/hello.txt'] });
    for (const blob of [layer, image.config, image.manifest]) await content.writeBlob(blob.bytes, blob.digest);
    const client = new RegistryClient({ mirrors: {} });
    const pusher = new ImagePusher(client, content, 3);
    const request = { manifestDigest: image.manifest.digest, manifestMediaType: image.manifest.mediaType };
    const byTag = await pusher.push({ ...request, target: parseReference(`${second.host}/built/app:1`) });
    assert.equal(byTag.digest, image.manifest.digest);
    assert.equal(byTag.sizeBytes, image.manifest.size);
    await assertPullable({ mirrors: {} }, { domain: second.host, path: 'built/app' }, '1', image.manifest.digest);

    const byDigest = await pusher.push({
      ...request,
      target: parseReference(`${second.host}/built/by-digest@${image.manifest.digest}`),
    });
    assert.equal(byDigest.reference, `${second.host}/built/by-digest@${image.manifest.digest}`);
    const repo = { domain: second.host, path: 'built/by-digest' };
    assert.equal(await client.hasManifest(repo, image.manifest.digest), true);
    await assert.rejects(client.fetchManifest(repo, 'latest'), { code: 'NOT_FOUND' });
  });

  it('refuses a digest target that is not the image, and names a blob missing from the store', async () => {
    const client = new RegistryClient({ mirrors: {} });
    const pusher = new ImagePusher(client, content, 3);
    await assert.rejects(
      pusher.push({
        target: parseReference(`${second.host}/x/y@${images.other1.manifestDigest}`),
        manifestDigest: busybox.digest,
        manifestMediaType: busybox.mediaType,
      }),
      { code: 'INVALID_ARGUMENT' },
    );
    const m = await client.fetchManifest({ domain: source.host, path: 'berth-test/other' }, '2');
    const other = await mkdtemp(join(tmpdir(), 'berth-push-other-'));
    const store = new ContentStore(other);
    await store.init();
    try {
      await store.writeBlob(m.bytes, m.digest); // the manifest only: its blobs were never fetched
      await assert.rejects(
        new ImagePusher(client, store, 3).push({
          target: parseReference(`${second.host}/x/other:2`),
          manifestDigest: m.digest,
          manifestMediaType: m.mediaType,
        }),
        { code: 'NOT_FOUND', message: /content sha256:[0-9a-f]{64} not found/ },
      );
    } finally {
      await store.close();
      await rm(other, { recursive: true, force: true });
    }
  });

  it('pushes an index with the platform manifests the store has, and refuses one it lacks', async () => {
    const client = new RegistryClient({ mirrors: {} });
    const repo = { domain: source.host, path: 'berth-test/multiarch' };
    const index = await client.fetchManifest(repo, 'latest');
    await content.writeBlob(index.bytes, index.digest);
    await pullInto(client, content, repo, images.multiarch.native.manifestDigest);
    const pusher = new ImagePusher(client, content, 3);
    const request = { manifestDigest: index.digest, manifestMediaType: index.mediaType };
    await assert.rejects(pusher.push({ ...request, target: parseReference(`${second.host}/multi/arch:latest`) }), {
      code: 'FAILED_PRECONDITION',
      message: new RegExp(`${images.multiarch.foreign.manifestDigest}.*linux/s390x`),
    });
    await pullInto(client, content, repo, images.multiarch.foreign.manifestDigest);
    const pushed = await pusher.push({ ...request, target: parseReference(`${second.host}/multi/arch:latest`) });
    assert.equal(pushed.digest, images.multiarch.indexDigest);
    const back = await client.fetchManifest({ domain: second.host, path: 'multi/arch' }, 'latest');
    assert.equal(back.digest, images.multiarch.indexDigest);
    await assertPullable(
      { mirrors: {} },
      { domain: second.host, path: 'multi/arch' },
      images.multiarch.native.manifestDigest,
      images.multiarch.native.manifestDigest,
    );
  });

  it('never pushes to a mirror of the target host', async () => {
    const log: Logged[] = [];
    const client = new RegistryClient({
      mirrors: { [second.host]: { endpoint: [source.url] } },
      fetch: recordingFetch(log),
    });
    await new ImagePusher(client, content, 3).push({
      target: parseReference(`${second.host}/not-mirrored/busybox:1`),
      manifestDigest: busybox.digest,
      manifestMediaType: busybox.mediaType,
    });
    assert.ok(log.length > 0);
    assert.ok(
      log.every((l) => new URL(l.url).host === second.host),
      `requests: ${log.map((l) => l.url).join(', ')}`,
    );
  });

  it('stops with CANCELLED when the signal aborts', async () => {
    const client = new RegistryClient({ mirrors: {} });
    const controller = new AbortController();
    const pushing = new ImagePusher(client, content, 3).push({
      target: parseReference(`${second.host}/cancelled/busybox:1`),
      manifestDigest: busybox.digest,
      manifestMediaType: busybox.mediaType,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.state === 'uploading') controller.abort();
      },
    });
    await assert.rejects(pushing, { code: 'CANCELLED' });
    await assert.rejects(client.fetchManifest({ domain: second.host, path: 'cancelled/busybox' }, '1'), {
      code: 'NOT_FOUND',
    });
  });

  describe('with htpasswd Basic auth', { skip: authSkip }, () => {
    let secured: Registry;
    const credentials = { username: 'pusher', password: 'correct horse' };
    before(async () => {
      secured = await startRegistry({ htpasswd: credentials });
    });
    after(async () => {
      await secured?.stop();
    });

    it('is refused without credentials or with a wrong password, and accepted with the right ones', async () => {
      const target = parseReference(`${secured.host}/private/busybox:1`);
      const request = { target, manifestDigest: busybox.digest, manifestMediaType: busybox.mediaType };
      const anonymous = new ImagePusher(new RegistryClient({ mirrors: {} }), content, 3);
      await assert.rejects(anonymous.push(request), { code: 'UNAUTHENTICATED' });
      await assert.rejects(anonymous.push({ ...request, credentials: { username: 'pusher', password: 'wrong' } }), {
        code: 'UNAUTHENTICATED',
      });

      const log: Logged[] = [];
      const client = new RegistryClient({
        mirrors: {},
        credentialsFor: (host) => (host === secured.host ? credentials : undefined),
        fetch: recordingFetch(log),
      });
      const pushed = await new ImagePusher(client, content, 3).push(request);
      assert.equal(pushed.digest, busybox.digest);
      const repo = { domain: secured.host, path: 'private/busybox' };
      await assertPullable({ mirrors: {} }, repo, '1', busybox.digest, { credentials });
      await assert.rejects(new RegistryClient({ mirrors: {} }).fetchManifest(repo, '1'), { code: 'UNAUTHENTICATED' });
      // Basic goes up front once the registry asked for it: each blob and the manifest is PUT once (a
      // streamed upload answered 401 would have to be sent again), and only the first HEADs meet a 401.
      const puts = log.filter((l) => l.method === 'PUT');
      assert.equal(puts.length, busybox.blobs.length + 1);
      const heads = log.filter((l) => l.method === 'HEAD');
      assert.ok(heads.length <= busybox.blobs.length + 3, `${heads.length} HEADs`);
    });
  });

  describe('over TLS with a self-signed certificate', { skip: tlsSkip }, () => {
    let tls: Registry;
    before(async () => {
      tls = await startRegistry({ tls: true });
    });
    after(async () => {
      await tls?.stop();
    });

    it('fails on the certificate without insecure_skip_verify and works with it', async () => {
      assert.ok(tls.url.startsWith('https://'));
      const target = parseReference(`${tls.host}/secure/busybox:1`);
      const request = { target, manifestDigest: busybox.digest, manifestMediaType: busybox.mediaType };
      // A loopback host is spoken to over plain HTTP unless an endpoint of its own says https://.
      const mirrors = { [tls.host]: { endpoint: [tls.url] } };
      const strict = new RegistryClient({ mirrors });
      await assert.rejects(new ImagePusher(strict, content, 3).push(request), {
        code: 'UNAVAILABLE',
        message: new RegExp(`certificate.*insecure_skip_verify`),
      });
      const otherHostOnly = new RegistryClient({
        mirrors,
        tls: { 'registry.example:443': { insecureSkipVerify: true } },
      });
      await assert.rejects(otherHostOnly.hasBlob({ domain: tls.host, path: 'secure/busybox' }, busybox.digest), {
        code: 'UNAVAILABLE',
        message: /certificate/,
      });
      await otherHostOnly.close();

      const config: RegistryClientConfig = { mirrors, tls: { [tls.host]: { insecureSkipVerify: true } } };
      const client = new RegistryClient(config);
      try {
        const pushed = await new ImagePusher(client, content, 3).push(request);
        assert.equal(pushed.digest, busybox.digest);
      } finally {
        await client.close();
      }
      await assertPullable(config, { domain: tls.host, path: 'secure/busybox' }, '1', busybox.digest);
    });
  });
});
