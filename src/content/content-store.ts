/**
 * ContentStore: the files behind content-addressed blobs (layout and invariants in index.ts). It verifies
 * bytes once, at write time, so readers can trust a blob by its path; callers that doubt the disk use verify().
 * Deletions are tracked per digest so that a has()/info() racing a GC waits for the unlink instead of
 * seeing a blob that is about to vanish.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BATCH_BYTES } from '../base/batched-write.js';
import { crashPoint } from '../base/crash-point.js';
import { BerthError, isNotFound, isResourceExhausted } from '../base/errors.js';
import { parseDigest, sha256Digest } from './digest.js';
import { INGEST_STAGING_PREFIX, IngestWriter, ioError, readExpected, syncDir } from './ingest-writer.js';
import type { BlobInfo, ContentWriter, ExpectedBlob } from './ingest-writer.js';

/** An unfinished write, for `berth content active` and stale-ingest cleanup. */
export interface IngestInfo {
  readonly ref: string;
  readonly expected: ExpectedBlob | undefined;
  readonly offset: number;
  readonly updatedAtMs: number;
  readonly isActive: boolean;
}

export interface GcResult {
  readonly removed: string[];
  readonly freedBytes: number;
}

/** Asked per blob at the moment GC would delete it, so a lease taken after GC started still counts. */
export interface LeaseCheck {
  isLeased(digest: string): boolean;
}

/**
 * Where writeFrom gets its bytes: either a body that starts at byte 0 (any partial ingest is reset), or a
 * fetch given the ingest's offset that answers whether its body starts there (HTTP 206) or at 0 (200).
 */
export type BlobSource =
  | AsyncIterable<Uint8Array>
  | ((offset: number) => Promise<{ readonly body: AsyncIterable<Uint8Array>; readonly isPartial: boolean }>);

export interface WriteStreamOptions {
  /** When the digest (and size) is known after all (an OCI layout names blobs by digest): checked before commit. */
  readonly expected?: ExpectedBlob;
  /** More bytes than this is RESOURCE_EXHAUSTED. */
  readonly maxBytes?: number;
  /**
   * Called with the computed digest before the blob becomes visible (or is found already stored), so the
   * caller can lease it with no window in which GC could take it.
   */
  readonly beforeCommit?: (digest: string) => void;
  readonly signal?: AbortSignal;
}

const HEX_NAME = /^[0-9a-f]{64}$/;
const TMP_PREFIX = INGEST_STAGING_PREFIX;

export class ContentStore {
  /** Ingest dir names (sha256 of the ref) and writeBlob temp names in use; null while a writer opens. */
  private readonly active = new Map<string, IngestWriter | null>();
  /** Unlinks in progress, by digest; these promises never reject. */
  private readonly deleting = new Map<string, Promise<void>>();
  private isClosed = false;

  private readonly blobsDir: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  /**
   * Creates the directories. Ingests left by a crash stay for a resume, except those whose blob is already
   * committed (a crash between the rename and the removal of the ingest dir): nothing would ever resume
   * them. writeBlob temp files go.
   */
  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true, mode: 0o711 });
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    await chmod(this.ingestDir, 0o700);
    for (const name of await readdir(this.ingestDir)) {
      if (this.active.has(name)) continue;
      const path = join(this.ingestDir, name);
      if (name.startsWith(TMP_PREFIX)) {
        await rm(path, { recursive: true, force: true }); // a writeBlob file or an ingest dir being removed
        continue;
      }
      if (!HEX_NAME.test(name)) continue;
      const expected = await readExpected(join(path, 'expected'));
      if (expected !== undefined && (await this.has(expected.digest).catch(() => false))) {
        await rm(path, { recursive: true, force: true });
      }
    }
  }

  /** Idempotent: closes open writers (their ingests stay resumable) and refuses new writes. */
  async close(): Promise<void> {
    this.isClosed = true;
    await Promise.all([...this.active.values()].flatMap((w) => (w === null ? [] : [w.close()])));
  }

  /** The path of a blob (present or not); INVALID_ARGUMENT for anything but sha256:<64 lowercase hex>. */
  blobPath(digest: string): string {
    return join(this.blobsDir, parseDigest(digest));
  }

  async info(digest: string): Promise<BlobInfo> {
    const path = this.blobPath(digest);
    await this.deleting.get(digest);
    try {
      const st = await stat(path);
      return { digest, sizeBytes: st.size, createdAtMs: st.mtimeMs };
    } catch (err) {
      throw blobError(err, digest, 'stat');
    }
  }

  async has(digest: string): Promise<boolean> {
    try {
      await this.info(digest);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Reads a small blob (manifest, config) whole; one larger than maxBytes is RESOURCE_EXHAUSTED. */
  async readBytes(digest: string, maxBytes: number): Promise<Buffer> {
    const fh = await this.openBlob(digest);
    try {
      const { size } = await fh.stat();
      if (size > maxBytes) {
        throw new BerthError(
          'RESOURCE_EXHAUSTED',
          `content ${digest} is ${size} bytes, over the ${maxBytes} byte limit`,
        );
      }
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** Streams a blob from byte `start`; a missing blob fails the stream with NOT_FOUND. */
  createReadStream(digest: string, start = 0): Readable {
    parseDigest(digest);
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new BerthError('INVALID_ARGUMENT', `read content ${digest}: bad start offset ${start}`);
    }
    const openBlob = (): Promise<FileHandle> => this.openBlob(digest);
    async function* read(): AsyncGenerator<Buffer> {
      const fh = await openBlob();
      yield* fh.createReadStream({ start, highWaterMark: BATCH_BYTES }); // closes fh when done or destroyed
    }
    return Readable.from(read(), { objectMode: false });
  }

  /** Re-hashes a blob: false when its bytes no longer match its name (disk damage, tampering). */
  async verify(digest: string): Promise<boolean> {
    const hash = createHash('sha256');
    for await (const chunk of this.createReadStream(digest)) hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}` === digest;
  }

  /**
   * Opens a resumable writer for ref (any string naming the operation, e.g. "pull-<digest>"). Its offset says
   * how much an earlier interrupted writer with the same ref and digest left. A second writer on a ref that is
   * open gets ABORTED: the caller de-duplicates (SingleFlight) or retries.
   */
  async openWriter(ref: string, expected: ExpectedBlob): Promise<ContentWriter> {
    this.assertOpen();
    parseDigest(expected.digest);
    const { sizeBytes } = expected;
    if (sizeBytes !== undefined && !(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0)) {
      throw new BerthError('INVALID_ARGUMENT', `content ${expected.digest}: bad expected size ${sizeBytes}`);
    }
    if (ref === '') throw new BerthError('INVALID_ARGUMENT', 'content ref is empty');
    const key = createHash('sha256').update(ref).digest('hex');
    if (this.active.has(key)) throw new BerthError('ABORTED', `content ref "${ref}" is locked by another writer`);
    this.active.set(key, null);
    try {
      const dir = join(this.ingestDir, key);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const clean = sizeBytes === undefined ? { digest: expected.digest } : { digest: expected.digest, sizeBytes };
      const writer = await IngestWriter.open(ref, dir, clean, {
        blobPath: (d) => this.blobPath(d),
        has: (d) => this.has(d),
        release: () => this.active.delete(key),
      });
      this.active.set(key, writer);
      return writer;
    } catch (err) {
      this.active.delete(key);
      throw ioError(err, `open writer for content ref "${ref}"`);
    }
  }

  /**
   * Stores bytes held in memory (manifests, configs) and returns their digest; FAILED_PRECONDITION when they
   * do not match expectedDigest. Takes no ref lock, so concurrent pulls may store the same manifest at once.
   */
  async writeBlob(bytes: Uint8Array, expectedDigest?: string): Promise<string> {
    this.assertOpen();
    const digest = sha256Digest(bytes);
    if (expectedDigest !== undefined && digest !== expectedDigest) {
      parseDigest(expectedDigest); // a malformed expectation is INVALID_ARGUMENT, not a mismatch
      throw new BerthError('FAILED_PRECONDITION', `content has digest ${digest}, expected ${expectedDigest}`);
    }
    if (await this.has(digest)) return digest;
    const name = `${TMP_PREFIX}${randomBytes(8).toString('hex')}`;
    const tmp = join(this.ingestDir, name);
    this.active.set(name, null);
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const fh = await open(tmp, flags, 0o400);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      crashPoint('content.write-blob.before-rename');
      await rename(tmp, this.blobPath(digest));
      await syncDir(this.blobsDir);
      return digest;
    } catch (err) {
      await rm(tmp, { force: true });
      throw ioError(err, `write content ${digest}`);
    } finally {
      this.active.delete(name);
    }
  }

  /**
   * Writes a whole blob from source under ref, resuming an earlier ingest when source is a fetch function.
   * On failure or cancellation (CANCELLED) the ingest stays for the next attempt; a digest or size mismatch
   * drops it (FAILED_PRECONDITION), and so does a full disk (RESOURCE_EXHAUSTED): the partial bytes would keep
   * the image filesystem full for everything else on the node.
   */
  async writeFrom(
    ref: string,
    expected: ExpectedBlob,
    source: BlobSource,
    options: { signal?: AbortSignal } = {},
  ): Promise<BlobInfo> {
    const { signal } = options;
    const checkSignal = (): void => {
      if (signal?.aborted) throw new BerthError('CANCELLED', `write of content ${expected.digest} cancelled`);
    };
    checkSignal();
    const writer = await this.openWriter(ref, expected);
    try {
      let body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = [];
      if (typeof source !== 'function') {
        if (writer.offset > 0) await writer.reset();
        body = source;
      } else if (writer.offset === 0 || writer.offset !== expected.sizeBytes) {
        const fetched = await source(writer.offset);
        if (!fetched.isPartial && writer.offset > 0) await writer.reset();
        body = fetched.body;
      } // else: an earlier attempt got every byte and stopped short of commit
      // Chunks are written in ~1 MiB batches (one thread-pool trip each); what was received before a
      // failure or cancellation is still written, so the next attempt resumes from there.
      const batch: Uint8Array[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        if (batchBytes === 0) return;
        const bytes = Buffer.concat(batch.splice(0), batchBytes);
        batchBytes = 0;
        await writer.write(bytes);
      };
      try {
        for await (const chunk of body) {
          checkSignal();
          batch.push(chunk);
          batchBytes += chunk.length;
          if (batchBytes >= BATCH_BYTES) await flush();
        }
      } catch (err) {
        await flush().catch(() => undefined);
        throw err;
      }
      await flush();
      checkSignal();
      return await writer.commit();
    } catch (err) {
      if (isResourceExhausted(err)) await writer.abort();
      throw err;
    } finally {
      await writer.close();
    }
  }

  /**
   * Stores a stream whose digest is learnt by hashing it (an image archive entry). Not resumable: the bytes
   * are staged in ingest/.tmp-<random> (removed on failure and by init), fsynced, then renamed under the
   * computed digest, so blobs/ keeps holding only verified bytes. A blob already stored is kept as it is.
   */
  async writeStream(source: AsyncIterable<Uint8Array>, options: WriteStreamOptions = {}): Promise<BlobInfo> {
    this.assertOpen();
    const { expected, maxBytes, signal } = options;
    if (expected !== undefined) parseDigest(expected.digest);
    const what = expected === undefined ? 'content stream' : `content ${expected.digest}`;
    const name = `${TMP_PREFIX}${randomBytes(8).toString('hex')}`;
    const tmp = join(this.ingestDir, name);
    this.active.set(name, null);
    let fh: FileHandle | undefined;
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      fh = await open(tmp, flags, 0o400);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of source) {
        if (signal?.aborted) throw new BerthError('CANCELLED', `write of ${what} cancelled`);
        size += chunk.length;
        if (maxBytes !== undefined && size > maxBytes) {
          throw new BerthError('RESOURCE_EXHAUSTED', `${what} is over the ${maxBytes} byte limit`);
        }
        if (expected?.sizeBytes !== undefined && size > expected.sizeBytes) {
          throw new BerthError(
            'FAILED_PRECONDITION',
            `${what}: got more than the expected ${expected.sizeBytes} bytes`,
          );
        }
        await writeAll(fh, chunk);
        hash.update(chunk);
      }
      if (signal?.aborted) throw new BerthError('CANCELLED', `write of ${what} cancelled`);
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected !== undefined && (digest !== expected.digest || (expected.sizeBytes ?? size) !== size)) {
        throw new BerthError(
          'FAILED_PRECONDITION',
          `${what}: got ${size} bytes with digest ${digest}, expected ${expected.sizeBytes ?? 'any'} bytes with digest ${expected.digest}`,
        );
      }
      options.beforeCommit?.(digest);
      if (!(await this.has(digest))) {
        await fh.sync();
        await fh.close();
        fh = undefined;
        await rename(tmp, this.blobPath(digest));
        await syncDir(this.blobsDir);
      }
      return { digest, sizeBytes: size, createdAtMs: Date.now() };
    } catch (err) {
      throw ioError(err, `write ${what}`);
    } finally {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      this.active.delete(name);
    }
  }

  /** Every blob, sorted by digest (`berth content ls`). */
  async list(): Promise<BlobInfo[]> {
    const names = (await readdir(this.blobsDir)).filter((n) => HEX_NAME.test(n)).sort();
    const infos = await Promise.all(names.map((n) => this.info(`sha256:${n}`).catch(() => undefined)));
    return infos.filter((i): i is BlobInfo => i !== undefined);
  }

  /** Unfinished writes, including those left by an earlier berthd. */
  async listIngests(): Promise<IngestInfo[]> {
    const out: IngestInfo[] = [];
    for (const name of (await readdir(this.ingestDir)).filter((n) => HEX_NAME.test(n)).sort()) {
      const dir = join(this.ingestDir, name);
      const ref = await readFile(join(dir, 'ref'), 'utf8').catch(() => undefined);
      if (ref === undefined) continue; // half-created by a crash; cleanupIngests removes it
      const st = await lstat(join(dir, 'data')).catch(() => undefined);
      const writer = this.active.get(name);
      out.push({
        ref,
        expected: await readExpected(join(dir, 'expected')),
        offset: writer?.offset ?? st?.size ?? 0,
        updatedAtMs: st?.mtimeMs ?? 0,
        isActive: this.active.has(name),
      });
    }
    return out;
  }

  /** Removes one blob; NOT_FOUND when it is absent. Callers check that nothing refers to it. */
  async delete(digest: string): Promise<void> {
    parseDigest(digest);
    const pending = this.deleting.get(digest);
    if (pending !== undefined) await pending; // no await otherwise: a has() right after must see the unlink
    await this.unlinkBlob(digest).catch((err: unknown) => {
      throw blobError(err, digest, 'delete');
    });
  }

  /**
   * Removes every blob that is neither in `referenced` nor leased, checking the lease just before each unlink.
   * Ingests (open or resumable) are never touched: cleanupIngests ages those out.
   */
  async gc(referenced: ReadonlySet<string>, options: { leases?: LeaseCheck } = {}): Promise<GcResult> {
    const removed: string[] = [];
    let freedBytes = 0;
    for (const blob of await this.list()) {
      if (referenced.has(blob.digest) || options.leases?.isLeased(blob.digest) === true) continue;
      try {
        await this.unlinkBlob(blob.digest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError(err, `gc content ${blob.digest}`);
      }
      removed.push(blob.digest);
      freedBytes += blob.sizeBytes;
      crashPoint('content.gc.after-unlink');
    }
    return { removed, freedBytes };
  }

  /** Removes ingests no writer has open and nobody wrote for maxAgeMs; returns how many. */
  async cleanupIngests(maxAgeMs: number, nowMs = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.ingestDir)) {
      const path = join(this.ingestDir, name);
      if (!HEX_NAME.test(name) && !name.startsWith(TMP_PREFIX)) continue;
      const st = (await lstat(join(path, 'data')).catch(() => undefined)) ?? (await lstat(path).catch(() => undefined));
      if (st === undefined || nowMs - st.mtimeMs < maxAgeMs || this.active.has(name)) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /** Bytes and files held: blobs plus unfinished ingests (both occupy the image filesystem). */
  async usage(): Promise<{ sizeBytes: number; inodes: number }> {
    const [blobs, ingests] = await Promise.all([this.list(), this.listIngests()]);
    const sizeBytes = [...blobs.map((b) => b.sizeBytes), ...ingests.map((i) => i.offset)].reduce((a, b) => a + b, 0);
    return { sizeBytes, inodes: blobs.length + ingests.length };
  }

  private assertOpen(): void {
    if (this.isClosed) throw new BerthError('FAILED_PRECONDITION', 'content store is closed');
  }

  private async openBlob(digest: string): Promise<FileHandle> {
    const path = this.blobPath(digest);
    await this.deleting.get(digest);
    try {
      return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw blobError(err, digest, 'open');
    }
  }

  /** Starts the unlink at once (same tick as the caller's checks) and lets readers of digest wait for it. */
  private unlinkBlob(digest: string): Promise<void> {
    const done = unlink(this.blobPath(digest));
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.deleting.set(digest, settled);
    void settled.then(() => {
      if (this.deleting.get(digest) === settled) this.deleting.delete(digest);
    });
    return done;
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
    if (bytesWritten === 0) throw new Error('short write');
    done += bytesWritten;
  }
}

function blobError(err: unknown, digest: string, doing: string): BerthError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new BerthError('NOT_FOUND', `content ${digest} not found`, { cause: err });
  }
  return ioError(err, `${doing} content ${digest}`);
}
