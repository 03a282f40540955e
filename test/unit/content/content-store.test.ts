// The content store against a real temp directory: verified commits, resumable ingests, digest validation, GC.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, watch, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore, LeaseManager, sha256Digest } from '../../../src/content/index.js';
import { SingleFlight } from '../../../src/base/single-flight.js';

async function withStore(fn: (store: ContentStore, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  const store = new ContentStore(root);
  try {
    await store.init();
    await fn(store, root);
  } finally {
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

const DATA = Buffer.from('hello, content store\n'.repeat(1000));
const DIGEST = sha256Digest(DATA);
const HEX = DIGEST.slice('sha256:'.length);

async function* chunks(buf: Buffer, size = 4096): AsyncIterable<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(source: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const ingestNames = (root: string): Promise<string[]> => readdir(join(root, 'ingest'));

describe('content store: writing', () => {
  it('writes, commits and reads back a verified, read-only blob', () =>
    withStore(async (store, root) => {
      const w = await store.openWriter('r1', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(w.offset, 0);
      for await (const c of chunks(DATA)) await w.write(c);
      const info = await w.commit();
      assert.equal(info.sizeBytes, DATA.length);
      const path = join(root, 'blobs', 'sha256', HEX);
      assert.equal(store.blobPath(DIGEST), path);
      assert.deepEqual(await readFile(path), DATA);
      assert.equal((await stat(path)).mode & 0o777, 0o400);
      assert.equal((await store.info(DIGEST)).sizeBytes, DATA.length);
      assert.ok(await store.verify(DIGEST));
      assert.deepEqual(await ingestNames(root), [], 'the ingest is gone after commit');
      assert.deepEqual(
        (await store.list()).map((b) => [b.digest, b.sizeBytes]),
        [[DIGEST, DATA.length]],
      );
      await assert.rejects(w.write(Buffer.from('x')), { code: 'FAILED_PRECONDITION' }, 'writer is done');
    }));

  it('refuses a digest mismatch, naming both digests, and commits nothing', () =>
    withStore(async (store, root) => {
      const wrong = sha256Digest(Buffer.from('other'));
      await assert.rejects(store.writeFrom('r1', { digest: wrong }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`got ${DATA.length} bytes with digest ${DIGEST}, expected ${wrong}`),
      });
      assert.equal(await store.has(wrong), false);
      assert.equal(await store.has(DIGEST), false);
      assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(await ingestNames(root), [], 'the bad ingest is removed');
    }));

  it('refuses too many bytes at write time and too few at commit', () =>
    withStore(async (store, root) => {
      await assert.rejects(store.writeFrom('r1', { digest: DIGEST, sizeBytes: 10 }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
        message: /more than the expected 10 bytes/,
      });
      await assert.rejects(store.writeFrom('r2', { digest: DIGEST, sizeBytes: DATA.length + 1 }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`got ${DATA.length} bytes .* expected ${DATA.length + 1} bytes`),
      });
      assert.equal(await store.has(DIGEST), false);
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('resumes an interrupted write from its offset', () =>
    withStore(async (store) => {
      const first = await store.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      await first.write(DATA.subarray(0, 5000));
      await first.close(); // the connection dropped
      const [ingest] = await store.listIngests();
      assert.deepEqual(
        { ref: ingest?.ref, offset: ingest?.offset, isActive: ingest?.isActive },
        { ref: 'pull-x', offset: 5000, isActive: false },
      );
      const second = await store.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(second.offset, 5000);
      await second.write(DATA.subarray(5000));
      await second.commit();
      assert.ok(await store.verify(DIGEST));
    }));

  it('resumes after a restart (new store on the same root) and drops staging files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    try {
      const before = new ContentStore(root);
      await before.init();
      const w = await before.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      await w.write(DATA.subarray(0, 777));
      // berthd is killed: no close(); a writeBlob staging file and a half-created ingest dir are left too
      await writeFile(join(root, 'ingest', '.tmp-0123456789abcdef'), 'partial');
      await mkdir(join(root, 'ingest', 'f'.repeat(64)));
      const after = new ContentStore(root);
      await after.init();
      const names = await ingestNames(root);
      assert.equal(names.length, 2, `the staging file is gone, both ingest dirs stay: ${names.join(', ')}`);
      assert.deepEqual(
        (await after.listIngests()).map((i) => [i.ref, i.offset]),
        [['pull-x', 777]],
        'the half-created dir is not listed',
      );
      const resumed = await after.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(resumed.offset, 777);
      await resumed.write(DATA.subarray(777));
      await resumed.commit();
      assert.ok(await after.verify(DIGEST));
      assert.equal(await after.cleanupIngests(0), 1, 'the half-created dir goes');
      assert.deepEqual(await ingestNames(root), []);
      await before.close();
      await after.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('resuming an ingest does not rewrite its expected file, which a crash could tear (issue #7)', () =>
    withStore(async (store, root) => {
      const first = await store.openWriter('pull-y', { digest: DIGEST, sizeBytes: DATA.length });
      await first.write(DATA.subarray(0, 100));
      await first.close();
      const [dir] = await ingestNames(root);
      const before = await stat(join(root, 'ingest', dir!, 'expected'));
      const resumed = await store.openWriter('pull-y', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(resumed.offset, 100);
      const after = await stat(join(root, 'ingest', dir!, 'expected'));
      assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'the same file, untouched');
      await resumed.close();
    }));

  it('drops at restart an ingest whose blob a crash committed but did not clean up (issue #7)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    try {
      const before = new ContentStore(root);
      await before.init();
      await before.writeFrom('pull-done', { digest: DIGEST, sizeBytes: DATA.length }, chunks(DATA));
      // A kill -9 between commit's rename and the removal of the ingest dir leaves ref and expected behind.
      const stale = join(root, 'ingest', 'a'.repeat(64));
      await mkdir(stale);
      await writeFile(join(stale, 'ref'), 'pull-done');
      await writeFile(join(stale, 'expected'), JSON.stringify({ digest: DIGEST, sizeBytes: DATA.length }));
      const other = DATA.subarray(0, 10);
      const w = await before.openWriter('pull-other', { digest: sha256Digest(other), sizeBytes: other.length });
      await w.write(other.subarray(0, 4));
      const after = new ContentStore(root);
      await after.init();
      assert.deepEqual(
        (await after.listIngests()).map((i) => [i.ref, i.offset]),
        [['pull-other', 4]],
        'the resumable ingest stays, the stale one is gone',
      );
      await before.close();
      await after.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it('removes a committed ingest by renaming it away first, and init clears a half-removed one (issue #7)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    try {
      const before = new ContentStore(root);
      await before.init();
      const w = await before.openWriter('pull-z', { digest: DIGEST, sizeBytes: DATA.length });
      const [dir] = await ingestNames(root);
      const stopWatching = new AbortController();
      const watcher = watch(join(root, 'ingest'), { signal: stopWatching.signal });
      const seen: string[] = [];
      const watching = (async () => {
        for await (const ev of watcher) if (ev.filename !== null) seen.push(ev.filename);
      })().catch(() => undefined);
      await w.write(DATA);
      await w.commit();
      await new Promise((r) => setTimeout(r, 50)); // inotify events arrive asynchronously
      stopWatching.abort();
      await watching;
      assert.ok(
        seen.some((n) => n.startsWith('.tmp-')),
        `the ingest dir ${dir} left under a staging name: ${seen.join(', ')}`,
      );
      // A kill -9 inside the recursive removal: the staging dir keeps some of its files, `expected` gone.
      const torn = join(root, 'ingest', '.tmp-fedcba9876543210');
      await mkdir(torn);
      await writeFile(join(torn, 'ref'), 'pull-z');
      const after = new ContentStore(root);
      await after.init();
      assert.deepEqual(await ingestNames(root), [], 'nothing is left in ingest/');
      await before.close();
      await after.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('starts over when a ref is reused for another digest or the expected file is torn', () =>
    withStore(async (store, root) => {
      const other = sha256Digest(Buffer.from('other'));
      const w = await store.openWriter('ref', { digest: other });
      await w.write(Buffer.from('oth'));
      await w.close();
      const again = await store.openWriter('ref', { digest: DIGEST });
      assert.equal(again.offset, 0, 'bytes of another blob are not resumed');
      await again.write(DATA.subarray(0, 100));
      await again.close();
      const [dir] = await ingestNames(root);
      await writeFile(join(root, 'ingest', dir!, 'expected'), '{"dig');
      const third = await store.openWriter('ref', { digest: DIGEST });
      assert.equal(third.offset, 0, 'a torn expected file means the bytes are not trusted');
      await third.close();
      const shorter = await store.openWriter('ref', { digest: DIGEST, sizeBytes: DATA.length });
      await shorter.write(DATA.subarray(0, 50));
      await shorter.close();
      const tooLong = await store.openWriter('ref', { digest: DIGEST, sizeBytes: 10 });
      assert.equal(tooLong.offset, 0, 'more bytes than expected cannot be a prefix');
      await tooLong.abort();
    }));

  it('restarts from zero with reset()', () =>
    withStore(async (store) => {
      const w = await store.openWriter('pull-y', { digest: DIGEST });
      await w.write(Buffer.from('garbage'));
      await w.reset();
      assert.equal(w.offset, 0);
      await w.write(DATA);
      await w.commit();
      assert.ok(await store.verify(DIGEST));
    }));

  it('writeFrom asks a fetch for the offset and resets when the server ignores Range', () =>
    withStore(async (store) => {
      const w = await store.openWriter('pull', { digest: DIGEST, sizeBytes: DATA.length });
      await w.write(DATA.subarray(0, 1234));
      await w.close();
      const offsets: number[] = [];
      await store.writeFrom('pull', { digest: DIGEST, sizeBytes: DATA.length }, async (offset) => {
        offsets.push(offset);
        return { body: chunks(DATA.subarray(offset)), isPartial: true };
      });
      assert.ok(await store.verify(DIGEST));
      await store.delete(DIGEST);

      const w2 = await store.openWriter('pull', { digest: DIGEST, sizeBytes: DATA.length });
      await w2.write(DATA.subarray(0, 99));
      await w2.close();
      await store.writeFrom('pull', { digest: DIGEST, sizeBytes: DATA.length }, async (offset) => {
        offsets.push(offset);
        return { body: chunks(DATA), isPartial: false }; // HTTP 200: the whole blob again
      });
      assert.ok(await store.verify(DIGEST));
      assert.deepEqual(offsets, [1234, 99]);
    }));

  it('writeFrom commits a complete ingest without fetching', () =>
    withStore(async (store) => {
      const w = await store.openWriter('pull', { digest: DIGEST, sizeBytes: DATA.length });
      await w.write(DATA);
      await w.close(); // died between the last byte and commit
      await store.writeFrom('pull', { digest: DIGEST, sizeBytes: DATA.length }, () => {
        throw new Error('must not fetch');
      });
      assert.ok(await store.verify(DIGEST));
    }));

  it('a cancelled write leaves no blob, and its ingest resumes later', () =>
    withStore(async (store) => {
      const ac = new AbortController();
      async function* slow(): AsyncIterable<Uint8Array> {
        yield DATA.subarray(0, 1000);
        ac.abort();
        yield DATA.subarray(1000);
      }
      await assert.rejects(store.writeFrom('r', { digest: DIGEST }, slow(), { signal: ac.signal }), {
        code: 'CANCELLED',
      });
      assert.equal(await store.has(DIGEST), false);
      const w = await store.openWriter('r', { digest: DIGEST });
      assert.equal(w.offset, 1000);
      await w.abort();
      await assert.rejects(store.writeFrom('r', { digest: DIGEST }, chunks(DATA), { signal: ac.signal }), {
        code: 'CANCELLED',
      });
    }));

  it('locks a ref against a second writer; other refs for the same digest dedupe at commit', () =>
    withStore(async (store, root) => {
      const w = await store.openWriter('same', { digest: DIGEST });
      const [a, b] = await Promise.allSettled([
        store.openWriter('same', { digest: DIGEST }),
        store.openWriter('same', { digest: DIGEST }),
      ]);
      assert.equal(a.status, 'rejected');
      assert.equal(b.status === 'rejected' && (b.reason as { code: string }).code, 'ABORTED');
      await w.close();
      const x = await store.openWriter('same', { digest: DIGEST });
      const y = await store.openWriter('other', { digest: DIGEST });
      await Promise.all([x.write(DATA), y.write(DATA)]);
      await x.commit();
      await y.commit(); // the blob exists: y's ingest is just dropped
      assert.ok(await store.verify(DIGEST));
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('writeBlob stores in-memory bytes, checks the expected digest, and runs concurrently', () =>
    withStore(async (store, root) => {
      const results = await Promise.all([1, 2, 3].map(() => store.writeBlob(DATA, DIGEST)));
      assert.deepEqual(results, [DIGEST, DIGEST, DIGEST]);
      assert.ok(await store.verify(DIGEST));
      const wrong = sha256Digest(Buffer.from('nope'));
      await assert.rejects(store.writeBlob(Buffer.from('yes'), wrong), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`expected ${wrong}`),
      });
      assert.equal(await store.has(wrong), false);
      assert.deepEqual(await ingestNames(root), []);
    }));

  it('refuses writes after close() and keeps the open ingest', () =>
    withStore(async (store) => {
      const w = await store.openWriter('r', { digest: DIGEST });
      await w.write(DATA.subarray(0, 10));
      await store.close();
      await store.close();
      await assert.rejects(w.write(DATA), { code: 'FAILED_PRECONDITION' });
      await assert.rejects(store.openWriter('r', { digest: DIGEST }), { code: 'FAILED_PRECONDITION' });
      assert.equal((await store.listIngests())[0]?.offset, 10);
    }));
});

describe('content store: reading and validation', () => {
  it('rejects digests that are not sha256 lowercase hex everywhere', () =>
    withStore(async (store) => {
      const bad = [
        'sha256:../../etc/passwd',
        `sha256:../../${'a'.repeat(58)}`,
        `sha256:${'A'.repeat(64)}`,
        `sha256:${'a'.repeat(63)}`,
        `sha256:${'a'.repeat(65)}`,
        `md5:${'a'.repeat(32)}`,
        `sha512:${'a'.repeat(128)}`,
        'a'.repeat(64),
        `sha256:${'a'.repeat(64)}\n`,
        '',
      ];
      const leases = new LeaseManager();
      const lease = leases.create();
      for (const digest of bad) {
        const code = { code: 'INVALID_ARGUMENT' };
        await assert.rejects(store.info(digest), code, digest);
        await assert.rejects(store.has(digest), code, digest);
        await assert.rejects(store.readBytes(digest, 10), code, digest);
        await assert.rejects(store.delete(digest), code, digest);
        await assert.rejects(store.openWriter('r', { digest }), code, digest);
        await assert.rejects(store.writeBlob(DATA, digest), code, digest);
        assert.throws(() => store.blobPath(digest), code, digest);
        assert.throws(() => store.createReadStream(digest), code, digest);
        assert.throws(() => leases.addResource(lease, digest), code, digest);
      }
      await assert.rejects(store.openWriter('r', { digest: DIGEST, sizeBytes: -1 }), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(store.openWriter('', { digest: DIGEST }), { code: 'INVALID_ARGUMENT' });
    }));

  it('limits readBytes and reports missing blobs as NOT_FOUND', () =>
    withStore(async (store) => {
      await store.writeBlob(DATA);
      assert.deepEqual(await store.readBytes(DIGEST, DATA.length), DATA);
      await assert.rejects(store.readBytes(DIGEST, DATA.length - 1), {
        code: 'RESOURCE_EXHAUSTED',
        message: new RegExp(`${DIGEST} is ${DATA.length} bytes`),
      });
      const missing = sha256Digest(Buffer.from('x'));
      await assert.rejects(store.readBytes(missing, 100), { code: 'NOT_FOUND' });
      await assert.rejects(store.info(missing), { code: 'NOT_FOUND', message: `content ${missing} not found` });
      await assert.rejects(store.delete(missing), { code: 'NOT_FOUND' });
      await assert.rejects(collect(store.createReadStream(missing)), { code: 'NOT_FOUND' });
    }));

  it('streams a blob from an offset', () =>
    withStore(async (store) => {
      await store.writeBlob(DATA);
      assert.deepEqual(await collect(store.createReadStream(DIGEST)), DATA);
      assert.deepEqual(await collect(store.createReadStream(DIGEST, 20_000)), DATA.subarray(20_000));
      assert.throws(() => store.createReadStream(DIGEST, -1), { code: 'INVALID_ARGUMENT' });
    }));

  it('verify() notices a damaged blob', () =>
    withStore(async (store, root) => {
      await store.writeBlob(DATA);
      const path = join(root, 'blobs', 'sha256', HEX);
      await rm(path);
      await writeFile(path, Buffer.concat([DATA.subarray(1), Buffer.from('!')]));
      assert.equal(await store.verify(DIGEST), false);
    }));

  it('has() right after delete() sees the blob gone', () =>
    withStore(async (store) => {
      await store.writeBlob(DATA);
      const deleting = store.delete(DIGEST);
      assert.equal(await store.has(DIGEST), false);
      await deleting;
    }));
});

describe('content store: GC, leases, cleanup, usage', () => {
  it('GC keeps referenced and leased blobs and open ingests', () =>
    withStore(async (store, root) => {
      const a = await store.writeBlob(Buffer.from('a'));
      const b = await store.writeBlob(Buffer.from('b'));
      const c = await store.writeBlob(Buffer.from('cc'));
      const d = await store.writeBlob(Buffer.from('d'));
      const leases = new LeaseManager();
      const lease = leases.create();
      leases.addResource(lease, b);
      const late = leases.create();
      leases.addResource(late, d); // taken after the caller built its set: the live check still sees it
      const open = await store.openWriter('in-flight', { digest: sha256Digest(Buffer.from('e')) });
      await open.write(Buffer.from('e'));
      const res = await store.gc(new Set([a]), { leases });
      assert.deepEqual(res, { removed: [c], freedBytes: 2 });
      assert.ok(await store.has(a));
      assert.ok(await store.has(b));
      assert.ok(await store.has(d));
      assert.equal((await ingestNames(root)).length, 1);
      leases.delete(lease);
      leases.delete(late);
      const second = await store.gc(new Set([a, ...leases.leasedDigests()]));
      assert.deepEqual(second.removed.sort(), [b, d].sort());
      await open.commit();
      assert.deepEqual((await store.list()).map((x) => x.digest).sort(), [a, sha256Digest(Buffer.from('e'))].sort());
    }));

  it('cleanupIngests removes idle ingests only', () =>
    withStore(async (store, root) => {
      const idle = await store.openWriter('idle', { digest: DIGEST });
      await idle.write(DATA.subarray(0, 10));
      await idle.close();
      const open = await store.openWriter('open', { digest: DIGEST });
      await open.write(DATA.subarray(0, 10));
      assert.equal(await store.cleanupIngests(60_000), 0, 'nothing is a minute old');
      assert.equal(await store.cleanupIngests(60_000, Date.now() + 120_000), 1);
      assert.deepEqual(
        (await store.listIngests()).map((i) => [i.ref, i.isActive, i.offset]),
        [['open', true, 10]],
      );
      assert.equal((await ingestNames(root)).length, 1);
      await open.abort();
    }));

  it('usage counts blobs and unfinished ingests', () =>
    withStore(async (store) => {
      await store.writeBlob(DATA);
      await store.writeBlob(Buffer.from('xyz'));
      const w = await store.openWriter('r', { digest: sha256Digest(Buffer.from('12345')) });
      await w.write(Buffer.from('12'));
      assert.deepEqual(await store.usage(), { sizeBytes: DATA.length + 3 + 2, inodes: 3 });
      await w.abort();
    }));
});

describe('single flight over the content store', () => {
  it('shares one fetch among concurrent callers and starts anew after success or failure', () =>
    withStore(async (store) => {
      const flights = new SingleFlight<string, void>();
      let fetches = 0;
      const fetchBlob = (): Promise<void> =>
        flights.run(DIGEST, async () => {
          fetches++;
          if (await store.has(DIGEST)) return;
          await new Promise((r) => setTimeout(r, 10));
          await store.writeFrom(`pull-${DIGEST}`, { digest: DIGEST, sizeBytes: DATA.length }, chunks(DATA));
        });
      await Promise.all([fetchBlob(), fetchBlob(), fetchBlob()]);
      assert.equal(fetches, 1, 'one writer, no ABORTED ref lock');
      assert.ok(await store.verify(DIGEST));
      await fetchBlob();
      assert.equal(fetches, 2, 'a finished flight is not cached');
      await assert.rejects(
        flights.run(DIGEST, () => Promise.reject(new Error('boom'))),
        /boom/,
      );
      assert.equal(flights.isRunning(DIGEST), false);
      await fetchBlob();
      assert.equal(fetches, 3, 'a failed flight is not cached');
    }));
});
