/**
 * One resumable write into the content store. Downloads break, so the bytes live in an ingest file that
 * survives the writer (and berthd); only commit(), after the size and sha256 match, moves them into the
 * blob namespace, so a blob path never holds unverified bytes. The store serialises writers per ref.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { crashPoint } from '../base/crash-point.js';
import { BerthError, ioError } from '../base/errors.js';

export interface BlobInfo {
  readonly digest: string;
  readonly sizeBytes: number;
  readonly createdAtMs: number;
}

/** What a writer must produce; sizeBytes is checked on every write when given (registries always give it). */
export interface ExpectedBlob {
  readonly digest: string;
  readonly sizeBytes?: number;
}

const ExpectedBlobSchema = z.object({
  digest: z.string(),
  sizeBytes: z.number().int().nonnegative().optional(),
});

/**
 * Lifecycle: openWriter → write* (→ reset → write*) → commit | abort | close.
 * commit and abort end the ingest; close ends only this writer and keeps the bytes for a resume.
 */
export interface ContentWriter {
  /** Bytes already in the ingest; after an interrupted write with the same ref, where to resume (HTTP Range). */
  readonly offset: number;
  readonly expected: ExpectedBlob;
  /** Appends at offset. More bytes than expected.sizeBytes drops the ingest: FAILED_PRECONDITION. */
  write(chunk: Uint8Array): Promise<void>;
  /** Starts over from byte 0 (the server ignored a Range request). */
  reset(): Promise<void>;
  /** Verifies size and digest (FAILED_PRECONDITION and no ingest left on mismatch), then publishes the blob. */
  commit(): Promise<BlobInfo>;
  /** Drops the ingest. Idempotent. */
  abort(): Promise<void>;
  /** Releases the ref and keeps the ingest for a later resume. Idempotent. */
  close(): Promise<void>;
}

/** What a writer needs from its store (kept narrow so this file does not import the store). */
export interface IngestHooks {
  blobPath(digest: string): string;
  has(digest: string): Promise<boolean>;
  release(): void;
}

/** Blobs are immutable: read-only, owner only (containerd also drops the write bits at commit). */
const BLOB_MODE = 0o400;
/** Names in the ingest dir that are being written or removed, never resumed: init removes them. */
export const INGEST_STAGING_PREFIX = '.tmp-';
const READ_CHUNK_BYTES = 1024 * 1024;
const OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;

export { ioError };

/** A small file replaced by rename (no fsync: an ingest is a cache, and readExpected rejects a torn file). */
async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export async function syncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export class IngestWriter implements ContentWriter {
  private isDone = false;
  private isWriting = false;
  private hash: Hash = createHash('sha256');
  private size = 0;

  private constructor(
    private readonly ref: string,
    private readonly dir: string,
    private readonly fh: FileHandle,
    readonly expected: ExpectedBlob,
    private readonly hooks: IngestHooks,
  ) {}

  /**
   * Opens (or creates) the ingest in dir. Bytes left by an earlier writer count only if they were for the same
   * digest and are not longer than expected; otherwise they are dropped, so a reused ref can never mix blobs.
   */
  static async open(ref: string, dir: string, expected: ExpectedBlob, hooks: IngestHooks): Promise<IngestWriter> {
    const fh = await open(join(dir, 'data'), OPEN_FLAGS, 0o600);
    const writer = new IngestWriter(ref, dir, fh, expected, hooks);
    try {
      const previous = await readExpected(join(dir, 'expected'));
      const { size } = await fh.stat();
      const isReusable =
        previous?.digest === expected.digest && (expected.sizeBytes === undefined || size <= expected.sizeBytes);
      if (isReusable) {
        // ref and expected are already right: rewriting them would open a window in which a crash (say, of
        // another pull) tears `expected`, and the bytes kept for this resume would be thrown away next time.
        await writer.rehash(size);
      } else {
        await fh.truncate(0);
        // Written after the truncate (a crash in between leaves an empty ingest, never old bytes under a new
        // name), each by rename: a crash leaves the old file or the new one, never a torn one.
        await replaceFile(join(dir, 'ref'), ref);
        await replaceFile(join(dir, 'expected'), JSON.stringify(expected));
      }
      crashPoint('content.ingest.after-open');
      return writer;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw ioError(err, `open ingest for content ref "${ref}"`);
    }
  }

  get offset(): number {
    return this.size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    if (this.isWriting) throw new BerthError('FAILED_PRECONDITION', `content ref "${this.ref}": overlapping writes`);
    const limit = this.expected.sizeBytes;
    if (limit !== undefined && this.size + chunk.length > limit) {
      await this.abort();
      throw new BerthError(
        'FAILED_PRECONDITION',
        `content ${this.expected.digest}: got more than the expected ${limit} bytes (ref "${this.ref}")`,
      );
    }
    this.isWriting = true;
    try {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, this.size + done);
        if (bytesWritten === 0) throw new Error('short write');
        done += bytesWritten;
      }
    } catch (err) {
      // Keep the file equal to what the hash has seen, so a resume stays correct.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw ioError(err, `write content ${this.expected.digest}`);
    } finally {
      this.isWriting = false;
    }
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.size > 0 && this.size < (limit ?? Infinity)) crashPoint('content.ingest.mid-blob');
  }

  async reset(): Promise<void> {
    this.assertOpen();
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this.size = 0;
  }

  async commit(): Promise<BlobInfo> {
    this.assertOpen();
    const { digest, sizeBytes } = this.expected;
    const actual = `sha256:${this.hash.copy().digest('hex')}`;
    if ((sizeBytes !== undefined && this.size !== sizeBytes) || actual !== digest) {
      await this.abort();
      const want = sizeBytes === undefined ? digest : `${sizeBytes} bytes with digest ${digest}`;
      throw new BerthError(
        'FAILED_PRECONDITION',
        `unexpected commit of content ref "${this.ref}": got ${this.size} bytes with digest ${actual}, expected ${want}`,
      );
    }
    const target = this.hooks.blobPath(digest);
    if (await this.hooks.has(digest)) {
      await this.abort(); // written meanwhile by someone else: identical bytes, keep the existing file
      return { digest, sizeBytes: this.size, createdAtMs: Date.now() };
    }
    try {
      await this.fh.chmod(BLOB_MODE);
      await this.fh.sync();
      await this.fh.close();
      crashPoint('content.commit.before-rename');
      await rename(join(this.dir, 'data'), target);
      await syncDir(dirname(target));
      crashPoint('content.commit.after-rename');
    } catch (err) {
      await this.abort(); // the ingest is read-only now and cannot be resumed
      throw ioError(err, `commit content ${digest}`);
    }
    await this.end(true);
    return { digest, sizeBytes: this.size, createdAtMs: Date.now() };
  }

  async abort(): Promise<void> {
    if (!this.isDone) await this.end(true);
  }

  async close(): Promise<void> {
    if (!this.isDone) await this.end(false);
  }

  /**
   * Releases the ref only after the dir is gone, so a new writer on the ref never sees its files removed. The
   * dir is first renamed to a staging name (which the store's init removes): a crash in the middle of a
   * recursive rm would otherwise leave the dir without its `expected` file, an ingest nobody could tell apart
   * from one still to resume.
   */
  private async end(isRemoving: boolean): Promise<void> {
    this.isDone = true;
    try {
      await this.fh.close().catch(() => undefined); // already closed after a successful rename
      if (isRemoving) {
        const doomed = join(dirname(this.dir), `${INGEST_STAGING_PREFIX}${randomBytes(8).toString('hex')}`);
        const isMoved = await rename(this.dir, doomed).then(
          () => true,
          () => false,
        );
        await rm(isMoved ? doomed : this.dir, { recursive: true, force: true });
      }
    } finally {
      this.hooks.release();
    }
  }

  private assertOpen(): void {
    if (this.isDone) throw new BerthError('FAILED_PRECONDITION', `content writer for ref "${this.ref}" is closed`);
  }

  /** Re-hashes the bytes an earlier writer left, so the digest at commit covers the whole blob. */
  private async rehash(size: number): Promise<void> {
    const buf = Buffer.alloc(Math.min(READ_CHUNK_BYTES, Math.max(size, 1)));
    while (this.size < size) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, size - this.size), this.size);
      if (bytesRead === 0) break;
      this.hash.update(buf.subarray(0, bytesRead));
      this.size += bytesRead;
    }
  }
}

export async function readExpected(path: string): Promise<ExpectedBlob | undefined> {
  try {
    const parsed = ExpectedBlobSchema.safeParse(JSON.parse(await readFile(path, 'utf8')) as unknown);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // missing or torn by a crash: the ingest's bytes cannot be trusted, start over
  }
}
