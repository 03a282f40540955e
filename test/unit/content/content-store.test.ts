import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore, LeaseManager, sha256Digest } from '../../../src/content/index.js';
import { SingleFlight } from '../../../src/base/single-flight.js';

async function withStore(fn: (store: ContentStore, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-content-'));
  try {
    const store = new ContentStore(root);
    await store.init();
    await fn(store, root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const DATA = Buffer.from('hello, content store\n'.repeat(1000));
const DIGEST = sha256Digest(DATA);

async function* chunks(buf: Buffer, size = 4096): AsyncIterable<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('content store', () => {
  it('writes, commits and reads back a verified blob', () =>
    withStore(async (store, root) => {
      const info = await store.writeFrom('r1', { digest: DIGEST, sizeBytes: DATA.length }, chunks(DATA));
      assert.equal(info.sizeBytes, DATA.length);
      assert.deepEqual(await readFile(join(root, 'blobs', 'sha256', DIGEST.slice(7))), DATA);
      assert.equal((await store.info(DIGEST)).sizeBytes, DATA.length);
      assert.ok(await store.verify(DIGEST));
      assert.deepEqual(await readdir(join(root, 'ingest')), [], 'the ingest is gone after commit');
    }));

  it('refuses a digest mismatch and commits nothing', () =>
    withStore(async (store, root) => {
      const wrong = sha256Digest(Buffer.from('other'));
      await assert.rejects(store.writeFrom('r1', { digest: wrong }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
        message: new RegExp(`got ${DATA.length} bytes with digest ${DIGEST}`),
      });
      assert.equal(await store.has(wrong), false);
      assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
      assert.deepEqual(await readdir(join(root, 'ingest')), []);
    }));

  it('refuses a size mismatch, too many or too few bytes', () =>
    withStore(async (store) => {
      await assert.rejects(store.writeFrom('r1', { digest: DIGEST, sizeBytes: 10 }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
      });
      await assert.rejects(store.writeFrom('r2', { digest: DIGEST, sizeBytes: DATA.length + 1 }, chunks(DATA)), {
        code: 'FAILED_PRECONDITION',
      });
      assert.equal(await store.has(DIGEST), false);
    }));

  it('resumes an interrupted write from its offset', () =>
    withStore(async (store) => {
      const first = await store.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(first.offset, 0);
      await first.write(DATA.subarray(0, 5000));
      await first.close(); // the connection dropped
      const second = await store.openWriter('pull-x', { digest: DIGEST, sizeBytes: DATA.length });
      assert.equal(second.offset, 5000);
      await second.write(DATA.subarray(5000));
      await second.commit();
      assert.ok(await store.verify(DIGEST));
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

  it('locks a ref against a second writer', () =>
    withStore(async (store) => {
      const w = await store.openWriter('same', { digest: DIGEST });
      await assert.rejects(store.openWriter('same', { digest: DIGEST }), { code: 'ABORTED' });
      await w.abort();
      const again = await store.openWriter('same', { digest: DIGEST });
      await again.abort();
    }));

  it('rejects digests that are not sha256 hex', () =>
    withStore(async (store) => {
      for (const bad of [
        'sha256:../../etc/passwd',
        `sha256:${'A'.repeat(64)}`,
        `sha256:${'a'.repeat(63)}`,
        `md5:${'a'.repeat(32)}`,
        'a'.repeat(64),
      ]) {
        await assert.rejects(store.info(bad), { code: 'INVALID_ARGUMENT' }, bad);
        await assert.rejects(store.openWriter('r', { digest: bad }), { code: 'INVALID_ARGUMENT' }, bad);
      }
    }));

  it('limits readBytes', () =>
    withStore(async (store) => {
      await store.writeBlob(DATA);
      assert.deepEqual(await store.readBytes(DIGEST, DATA.length), DATA);
      await assert.rejects(store.readBytes(DIGEST, 100), { code: 'RESOURCE_EXHAUSTED' });
      await assert.rejects(store.readBytes(sha256Digest(Buffer.from('x')), 100), { code: 'NOT_FOUND' });
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
    }));

  it('GC keeps referenced and leased blobs and open ingests', () =>
    withStore(async (store, root) => {
      const a = await store.writeBlob(Buffer.from('a'));
      const b = await store.writeBlob(Buffer.from('b'));
      const c = await store.writeBlob(Buffer.from('c'));
      const leases = new LeaseManager();
      const lease = leases.create();
      leases.addResource(lease, b);
      const open = await store.openWriter('in-flight', { digest: sha256Digest(Buffer.from('d')) });
      await open.write(Buffer.from('d'));
      const res = await store.gc(new Set([a, ...leases.leasedDigests()]));
      assert.deepEqual(res.removed, [c]);
      assert.equal(res.freedBytes, 1);
      assert.ok(await store.has(a));
      assert.ok(await store.has(b));
      assert.equal((await readdir(join(root, 'ingest'))).length, 1);
      leases.delete(lease);
      assert.deepEqual([...leases.leasedDigests()], []);
      await open.commit();
      assert.equal((await store.usage()).inodes, 3);
    }));

  it('expired leases protect nothing', () => {
    let now = 1000;
    const leases = new LeaseManager(() => now);
    const id = leases.create({ expiresInMs: 10 });
    leases.addResource(id, 'sha256:x');
    assert.equal(leases.leasedDigests().size, 1);
    now += 11;
    assert.equal(leases.leasedDigests().size, 0);
    assert.throws(() => leases.addResource(id, 'sha256:y'), { code: 'NOT_FOUND' });
  });
});

describe('single flight', () => {
  it('shares one run among concurrent callers and starts anew afterwards', async () => {
    const sf = new SingleFlight<string, number>();
    let runs = 0;
    const job = async (): Promise<number> => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return runs;
    };
    const [x, y] = await Promise.all([sf.run('k', job), sf.run('k', job)]);
    assert.equal(x, 1);
    assert.equal(y, 1);
    assert.equal(await sf.run('k', job), 2);
    await assert.rejects(
      sf.run('k', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(sf.isRunning('k'), false);
    assert.equal(await sf.run('k', job), 3);
  });
});
