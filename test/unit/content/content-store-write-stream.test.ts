// ContentStore.writeStream: blobs whose digest is learnt while writing (image archive entries).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore, sha256Digest } from '../../../src/content/index.js';

async function withStore(fn: (store: ContentStore, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-content-ws-'));
  const store = new ContentStore(root);
  try {
    await store.init();
    await fn(store, root);
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

const DATA = Buffer.from('archive entry bytes\n'.repeat(5000));
const DIGEST = sha256Digest(DATA);

async function* chunks(buf: Buffer, size = 4096): AsyncIterable<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function* failing(after: Buffer): AsyncIterable<Uint8Array> {
  yield after;
  throw new Error('source broke');
}

const ingestNames = (root: string): Promise<string[]> => readdir(join(root, 'ingest'));

describe('content store: writeStream', () => {
  it('stores a stream under its computed digest, read-only, with nothing left in ingest/', () =>
    withStore(async (store, root) => {
      const seen: string[] = [];
      const info = await store.writeStream(chunks(DATA), { beforeCommit: (d) => seen.push(d) });
      assert.equal(info.digest, DIGEST);
      assert.equal(info.sizeBytes, DATA.length);
      assert.deepEqual(seen, [DIGEST]);
      assert.deepEqual(await readFile(store.blobPath(DIGEST)), DATA);
      assert.equal((await stat(store.blobPath(DIGEST))).mode & 0o777, 0o400);
      assert.ok(await store.verify(DIGEST));
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('stores an empty stream as the empty blob', () =>
    withStore(async (store) => {
      const info = await store.writeStream(chunks(Buffer.alloc(0)));
      assert.equal(info.digest, sha256Digest(Buffer.alloc(0)));
      assert.equal(info.sizeBytes, 0);
      assert.ok(await store.has(info.digest));
    }));

  it('keeps an existing blob and still reports it (and calls beforeCommit)', () =>
    withStore(async (store, root) => {
      await store.writeBlob(DATA);
      const before = await stat(store.blobPath(DIGEST));
      const seen: string[] = [];
      const info = await store.writeStream(chunks(DATA), { beforeCommit: (d) => seen.push(d) });
      assert.equal(info.digest, DIGEST);
      assert.deepEqual(seen, [DIGEST]);
      assert.equal((await stat(store.blobPath(DIGEST))).ino, before.ino, 'the stored file was not replaced');
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('checks an expected digest and size and commits nothing on a mismatch', () =>
    withStore(async (store, root) => {
      const other = sha256Digest(Buffer.from('other'));
      await assert.rejects(store.writeStream(chunks(DATA), { expected: { digest: other } }), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`digest ${DIGEST}, expected any bytes with digest ${other}`),
      });
      await assert.rejects(store.writeStream(chunks(DATA), { expected: { digest: DIGEST, sizeBytes: 10 } }), {
        code: 'FAILED_PRECONDITION',
        message: /more than the expected 10 bytes/,
      });
      await assert.rejects(
        store.writeStream(chunks(DATA), { expected: { digest: DIGEST, sizeBytes: DATA.length + 1 } }),
        { code: 'FAILED_PRECONDITION' },
      );
      await assert.rejects(store.writeStream(chunks(DATA), { expected: { digest: 'sha256:nope' } }), {
        code: 'INVALID_ARGUMENT',
      });
      assert.equal(await store.has(DIGEST), false);
      assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(await ingestNames(root), []);
      const ok = await store.writeStream(chunks(DATA), { expected: { digest: DIGEST, sizeBytes: DATA.length } });
      assert.equal(ok.digest, DIGEST);
    }));

  it('refuses more than maxBytes with RESOURCE_EXHAUSTED', () =>
    withStore(async (store, root) => {
      await assert.rejects(store.writeStream(chunks(DATA), { maxBytes: 100 }), {
        code: 'RESOURCE_EXHAUSTED',
        message: /over the 100 byte limit/,
      });
      assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('removes the staging file when the source fails or the signal aborts', () =>
    withStore(async (store, root) => {
      await assert.rejects(store.writeStream(failing(DATA)), /source broke/);
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(store.writeStream(chunks(DATA), { signal: ac.signal }), { code: 'CANCELLED' });
      assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('writes concurrent streams of the same bytes once', () =>
    withStore(async (store) => {
      const infos = await Promise.all([1, 2, 3].map(() => store.writeStream(chunks(DATA, 1000))));
      assert.deepEqual(
        infos.map((i) => i.digest),
        [DIGEST, DIGEST, DIGEST],
      );
      assert.deepEqual(
        (await store.list()).map((b) => b.digest),
        [DIGEST],
      );
    }));

  it('refuses writes after close', () =>
    withStore(async (store) => {
      await store.close();
      await assert.rejects(store.writeStream(chunks(DATA)), { code: 'FAILED_PRECONDITION' });
    }));
});
