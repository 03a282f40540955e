// The registry client against a real docker-registry on 127.0.0.1, and loopback proxies in front of it
// that demand Bearer tokens, redirect blobs, serve rogue content, rewrite upload Locations or deny pushes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from '../../../src/images/registry/registry-client.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import type { TestImages } from '../../harness/test-images.js';

const skip = await registrySkipReason();

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A loopback HTTP server running `handler`; returns its base URL and a close function. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Forwards a request to the registry and relays the answer. */
async function forward(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const upstream = await fetch(`${registry.url}${req.url ?? '/'}`, {
    method: req.method,
    headers: { accept: req.headers.accept ?? '*/*', ...(req.headers.range ? { range: req.headers.range } : {}) },
    redirect: 'manual',
  });
  const headers: Record<string, string> = {};
  upstream.headers.forEach((v, k) => {
    if (k !== 'content-encoding' && k !== 'transfer-encoding') headers[k] = v;
  });
  res.writeHead(upstream.status, headers);
  res.end(Buffer.from(await upstream.arrayBuffer()));
}

/** Forwards any request (method, body, push headers) and lets `edit` change the answer's headers. */
async function forwardAll(
  registry: Registry,
  req: IncomingMessage,
  res: ServerResponse,
  edit: (headers: Record<string, string>, status: number) => void = () => undefined,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const headers: Record<string, string> = {};
  for (const name of ['accept', 'content-type', 'range']) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const upstream = await fetch(`${registry.url}${req.url ?? '/'}`, {
    method: req.method,
    headers,
    ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
    redirect: 'manual',
  });
  const out: Record<string, string> = {};
  upstream.headers.forEach((v, k) => {
    if (k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'content-length') out[k] = v;
  });
  edit(out, upstream.status);
  const answer = Buffer.from(await upstream.arrayBuffer());
  res.writeHead(upstream.status, out);
  res.end(req.method === 'HEAD' ? undefined : answer);
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('registry client', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let images: TestImages;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    registry = await startRegistry();
    images = await buildTestImages(registry);
  });
  after(async () => {
    for (const c of closers) await c();
    await registry?.stop();
  });

  const repoOf = (host: string) => ({ domain: host, path: 'berth-test/busybox' });

  it('fetches a manifest by tag and by digest, verified', async () => {
    const client = new RegistryClient({ mirrors: {} });
    const byTag = await client.fetchManifest(repoOf(registry.host), 'latest');
    assert.equal(byTag.digest, images.busybox.manifestDigest);
    assert.equal(byTag.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const byDigest = await client.fetchManifest(repoOf(registry.host), byTag.digest);
    assert.deepEqual(byDigest.bytes, byTag.bytes);
  });

  it('fetches a blob whole and resumed with Range', async () => {
    const client = new RegistryClient({ mirrors: {} });
    const layer = images.busybox.layers[0]!;
    const whole = await client.fetchBlob(repoOf(registry.host), layer.digest);
    const bytes = await collect(whole.body);
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
    assert.equal(whole.isPartial, false);
    const rest = await client.fetchBlob(repoOf(registry.host), layer.digest, { offset: 100 });
    assert.equal(rest.isPartial, true);
    assert.equal(rest.sizeBytes, bytes.length);
    assert.deepEqual(await collect(rest.body), bytes.subarray(100));
  });

  it('answers NOT_FOUND for a missing tag', async () => {
    const client = new RegistryClient({ mirrors: {} });
    await assert.rejects(client.fetchManifest(repoOf(registry.host), 'nope'), { code: 'NOT_FOUND' });
  });

  it('tries mirrors in order: a dead one, then the real registry', async () => {
    const dead = await serve(() => undefined);
    await dead.close(); // nothing listens on its port any more
    const client = new RegistryClient({ mirrors: { 'docker.io': { endpoint: [dead.url, registry.url] } } });
    const m = await client.fetchManifest({ domain: 'docker.io', path: 'berth-test/busybox' }, 'latest');
    assert.equal(m.digest, images.busybox.manifestDigest);
    assert.equal(m.endpoint.baseUrl, registry.url);
  });

  it('is NOT_FOUND when a mirror lacks the image and the upstream host cannot be reached', async () => {
    const dead = await serve(() => undefined);
    await dead.close();
    const upstream = new URL(dead.url).host; // a loopback host with nothing listening: plain HTTP, refused
    const client = new RegistryClient({ mirrors: { [upstream]: { endpoint: [registry.url] } } });
    await assert.rejects(
      client.fetchManifest({ domain: upstream, path: 'berth-test/none' }, 'latest'),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NOT_FOUND');
        assert.match(err.message, /every endpoint failed: .*MANIFEST_UNKNOWN|every endpoint failed: .*not found/i);
        assert.match(err.message, new RegExp(upstream.replaceAll('.', '\\.')));
        return true;
      },
    );
  });

  it('gets a Bearer token with the pull scope, and reports a refused login with the registry message', async () => {
    const scopes: string[] = [];
    const proxy = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        scopes.push(url.searchParams.get('scope') ?? '');
        const auth = req.headers.authorization ?? '';
        if (auth !== `Basic ${Buffer.from('alice:secret').toString('base64')}`) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials for alice' }] }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: 'tok-1', expires_in: 300 }));
        return;
      }
      if (req.headers.authorization !== 'Bearer tok-1') {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${proxyUrl}/token",service="test",scope="repository:berth-test/busybox:pull"`,
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      void forward(registry, req, res);
    });
    closers.push(() => proxy.close());
    const proxyUrl = proxy.url;
    const host = new URL(proxy.url).host;
    const good = new RegistryClient({ mirrors: {}, credentialsFor: () => ({ username: 'alice', password: 'secret' }) });
    const m = await good.fetchManifest(repoOf(host), 'latest');
    assert.equal(m.digest, images.busybox.manifestDigest);
    assert.deepEqual(scopes, ['repository:berth-test/busybox:pull']);
    await good.fetchManifest(repoOf(host), 'latest');
    assert.equal(scopes.length, 1, 'the token is cached');

    const bad = new RegistryClient({ mirrors: {} });
    await assert.rejects(
      bad.fetchManifest(repoOf(host), 'latest', { credentials: { username: 'alice', password: 'x' } }),
      {
        code: 'UNAUTHENTICATED',
        message: /bad credentials for alice/,
      },
    );
  });

  it('follows a blob redirect to another host', async () => {
    const proxy = await serve((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(307, { location: `${registry.url}${req.url}` });
        res.end();
        return;
      }
      void forward(registry, req, res);
    });
    closers.push(() => proxy.close());
    const client = new RegistryClient({ mirrors: {} });
    const layer = images.busybox.layers[1]!;
    const blob = await client.fetchBlob(repoOf(new URL(proxy.url).host), layer.digest);
    const bytes = await collect(blob.body);
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const rogue = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.end('{"schemaVersion":2,"layers":[]}');
      void req;
    });
    closers.push(() => rogue.close());
    const client = new RegistryClient({ mirrors: {} });
    await assert.rejects(client.fetchManifest(repoOf(new URL(rogue.url).host), images.busybox.manifestDigest), {
      code: 'DATA_LOSS',
      message: /expected sha256:/,
    });
  });

  describe('push', () => {
    const blobOf = (bytes: Buffer) => ({
      digest: sha256(bytes),
      sizeBytes: bytes.length,
      open: async function* () {
        yield bytes.subarray(0, 3);
        yield bytes.subarray(3);
      },
    });

    it('uploads through a relative Location, keeping its query verbatim and adding the digest', async () => {
      const puts: string[] = [];
      const proxy = await serve((req, res) => {
        if (req.method === 'PUT' && req.url?.includes('/blobs/uploads/')) puts.push(req.url);
        void forwardAll(registry, req, res, (headers, status) => {
          const location = headers['location'];
          if (status !== 202 || location === undefined) return;
          const url = new URL(location);
          headers['location'] = `${url.pathname}${url.search}&extra=a%2Bb+c%3D`; // relative, odd encoding
        });
      });
      closers.push(() => proxy.close());
      const host = new URL(proxy.url).host;
      const client = new RegistryClient({ mirrors: {} });
      const repo = { domain: host, path: 'push/relative' };
      const bytes = Buffer.from(`relative location ${Date.now()}`);
      const session = await client.startUpload(repo);
      assert.ok(session.url.startsWith(`${proxy.url}/v2/push/relative/blobs/uploads/`), session.url);
      await client.putBlob(session, blobOf(bytes));
      assert.equal(puts.length, 1);
      const query = puts[0]!.slice(puts[0]!.indexOf('?') + 1);
      assert.match(query, /^_state=[^&]+&extra=a%2Bb\+c%3D&digest=sha256%3A[0-9a-f]{64}$/);
      assert.equal(await client.hasBlob(repo, sha256(bytes)), true);
      const back = await client.fetchBlob(repo, sha256(bytes));
      assert.deepEqual(await collect(back.body), bytes);
    });

    it('asks for pull,push on the target and pull on the mount source in one token', async () => {
      const scopes: string[][] = [];
      const proxy = await serve((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/token') {
          scopes.push(url.searchParams.getAll('scope'));
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ token: `tok-${scopes.length}`, expires_in: 300 }));
          return;
        }
        if (!req.headers.authorization?.startsWith('Bearer tok-')) {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="${proxy.url}/token",service="test"` });
          res.end();
          return;
        }
        void forwardAll(registry, req, res);
      });
      closers.push(() => proxy.close());
      const host = new URL(proxy.url).host;
      const client = new RegistryClient({ mirrors: {} });
      const layer = images.busybox.layers[2]!;
      const outcome = await client.pushBlob(
        { domain: host, path: 'push/mounted' },
        { digest: layer.digest, sizeBytes: layer.size, open: () => assert.fail('a mounted blob is not read') },
        { mountFrom: { domain: host, path: 'berth-test/busybox' } },
      );
      assert.equal(outcome, 'mounted');
      assert.deepEqual(scopes, [
        ['repository:push/mounted:pull,push'],
        ['repository:push/mounted:pull,push', 'repository:berth-test/busybox:pull'],
      ]);
    });

    it('answers PERMISSION_DENIED with the registry message when a push is refused', async () => {
      const proxy = await serve((req, res) => {
        if (req.method === 'PUT' && req.url?.includes('/manifests/')) {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'push/denied is read-only' }] }));
          return;
        }
        void forwardAll(registry, req, res);
      });
      closers.push(() => proxy.close());
      const client = new RegistryClient({ mirrors: {} });
      const manifest = Buffer.from('{"schemaVersion":2}');
      await assert.rejects(
        client.putManifest({ domain: new URL(proxy.url).host, path: 'push/denied' }, 'v1', {
          bytes: manifest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
        }),
        { code: 'PERMISSION_DENIED', message: /DENIED: push\/denied is read-only/ },
      );
    });

    it('refuses a manifest pushed under a digest that is not its own', async () => {
      const client = new RegistryClient({ mirrors: {} });
      await assert.rejects(
        client.putManifest({ domain: registry.host, path: 'push/x' }, images.busybox.manifestDigest, {
          bytes: Buffer.from('{}'),
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
        }),
        { code: 'INVALID_ARGUMENT' },
      );
    });
  });
});
