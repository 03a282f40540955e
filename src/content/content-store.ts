/**
 * The content store: immutable blobs addressed by sha256 digest.
 *
 *   <root>/blobs/sha256/<hex>          a verified blob; only ever created by rename after fsync
 *   <root>/ingest/<sha256(ref)>/data   bytes of an unfinished write, kept to resume it (HTTP Range)
 *   <root>/ingest/<sha256(ref)>/ref    the ref, for `berth content` and stale-ingest cleanup
 *
 * A blob path therefore always holds content matching its name: a crash mid-write leaves an ingest,
 * never a torn blob. One berthd owns a root, so in-process locks on refs are enough.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../base/errors.js';
import { parseDigest, sha256Digest } from './digest.js';

export interface BlobInfo {
  readonly digest: string;
  readonly sizeBytes: number;
  readonly createdAtMs: number;
}

export interface ExpectedBlob {
  readonly digest: string;
  readonly sizeBytes?: number;
}

export interface ContentWriter {
  /** Bytes already written; after an interrupted write with the same ref, where to resume. */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Starts over from byte 0 (the server ignored a Range request). */
  reset(): Promise<void>;
  /** Verifies size and digest, then makes the blob visible. The writer is done afterwards. */
  commit(): Promise<BlobInfo>;
  /** Drops the ingest. */
  abort(): Promise<void>;
  /** Releases the ref lock and keeps the ingest for a later resume. */
  close(): Promise<void>;
}

const READ_CHUNK = 1024 * 1024;

export class ContentStore {
  private readonly lockedRefs = new Set<string>();

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true, mode: 0o711 });
    await mkdir(join(this.root, 'ingest'), { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', parseDigest(digest));
  }

  async info(digest: string): Promise<BlobInfo> {
    try {
      const st = await stat(this.blobPath(digest));
      return { digest, sizeBytes: st.size, createdAtMs: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BerthError('NOT_FOUND', `content ${digest} not found`);
      }
      throw err;
    }
  }

  async has(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Reads a small blob (manifest, config) whole; larger than maxBytes is RESOURCE_EXHAUSTED. */
  async readBytes(digest: string, maxBytes: number): Promise<Buffer> {
    const { sizeBytes } = await this.info(digest);
    if (sizeBytes > maxBytes) {
      throw new BerthError(
        'RESOURCE_EXHAUSTED',
        `content ${digest} is ${sizeBytes} bytes, over the ${maxBytes} byte limit`,
      );
    }
    return readFile(this.blobPath(digest));
  }

  createReadStream(digest: string, start = 0): ReadStream {
    return createReadStream(this.blobPath(digest), { start });
  }

  /** Re-hashes a blob: true when its bytes still match its name. */
  async verify(digest: string): Promise<boolean> {
    const hash = createHash('sha256');
    for await (const chunk of this.createReadStream(digest)) hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}` === digest;
  }

  async openWriter(ref: string, expected: ExpectedBlob): Promise<ContentWriter> {
    parseDigest(expected.digest);
    if (this.lockedRefs.has(ref)) throw new BerthError('ABORTED', `content ref "${ref}" is locked by another writer`);
    this.lockedRefs.add(ref);
    try {
      const dir = join(this.root, 'ingest', createHash('sha256').update(ref).digest('hex'));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFile(join(dir, 'ref'), ref);
      const dataPath = join(dir, 'data');
      const fh = await open(dataPath, 'a+', 0o600);
      const hash = createHash('sha256');
      const offset = await hashExisting(fh, hash);
      return new IngestWriter(this, ref, dir, dataPath, fh, hash, offset, expected);
    } catch (err) {
      this.lockedRefs.delete(ref);
      throw err;
    }
  }

  /** Writes a blob held in memory (manifests, configs); returns its digest. */
  async writeBlob(bytes: Uint8Array, expectedDigest?: string): Promise<string> {
    const digest = expectedDigest ?? sha256Digest(bytes);
    if (await this.has(digest)) {
      if (sha256Digest(bytes) !== digest) {
        throw new BerthError('FAILED_PRECONDITION', `content has digest ${sha256Digest(bytes)}, expected ${digest}`);
      }
      return digest;
    }
    const writer = await this.openWriter(`blob-${digest}`, { digest, sizeBytes: bytes.length });
    try {
      await writer.reset();
      await writer.write(bytes);
      await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return digest;
  }

  /** Streams chunks into a blob; on failure or abort the ingest is kept for a resume. */
  async writeFrom(
    ref: string,
    expected: ExpectedBlob,
    source: AsyncIterable<Uint8Array>,
    options: { signal?: AbortSignal } = {},
  ): Promise<BlobInfo> {
    const writer = await this.openWriter(ref, expected);
    try {
      for await (const chunk of source) {
        if (options.signal?.aborted) throw new BerthError('CANCELLED', `write of ${expected.digest} cancelled`);
        await writer.write(chunk);
      }
      return await writer.commit();
    } finally {
      await writer.close();
    }
  }

  async list(): Promise<BlobInfo[]> {
    const dir = join(this.root, 'blobs', 'sha256');
    const names = (await readdir(dir)).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    const infos = await Promise.all(names.map((n) => this.info(`sha256:${n}`).catch(() => undefined)));
    return infos.filter((i): i is BlobInfo => i !== undefined);
  }

  async delete(digest: string): Promise<void> {
    await this.info(digest);
    await rm(this.blobPath(digest), { force: true });
  }

  /** Removes every blob neither referenced nor leased. Ingests are never touched. */
  async gc(keep: ReadonlySet<string>): Promise<{ removed: string[]; freedBytes: number }> {
    const removed: string[] = [];
    let freedBytes = 0;
    for (const blob of await this.list()) {
      if (keep.has(blob.digest)) continue;
      await rm(this.blobPath(blob.digest), { force: true });
      removed.push(blob.digest);
      freedBytes += blob.sizeBytes;
    }
    return { removed, freedBytes };
  }

  /** Removes ingests not written for maxAgeMs and not open now. */
  async cleanupIngests(maxAgeMs: number, nowMs = Date.now()): Promise<number> {
    const base = join(this.root, 'ingest');
    let removed = 0;
    for (const name of await readdir(base)) {
      const dir = join(base, name);
      const ref = await readFile(join(dir, 'ref'), 'utf8').catch(() => '');
      if (this.lockedRefs.has(ref)) continue;
      const st = await stat(join(dir, 'data')).catch(() => undefined);
      if (st === undefined || nowMs - st.mtimeMs > maxAgeMs) {
        await rm(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  async usage(): Promise<{ sizeBytes: number; inodes: number }> {
    const blobs = await this.list();
    return { sizeBytes: blobs.reduce((n, b) => n + b.sizeBytes, 0), inodes: blobs.length };
  }

  /** @internal used by IngestWriter */
  releaseRef(ref: string): void {
    this.lockedRefs.delete(ref);
  }
}

async function hashExisting(fh: FileHandle, hash: Hash): Promise<number> {
  const buf = Buffer.alloc(READ_CHUNK);
  let offset = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    if (bytesRead === 0) return offset;
    hash.update(buf.subarray(0, bytesRead));
    offset += bytesRead;
  }
}

class IngestWriter implements ContentWriter {
  private isDone = false;

  constructor(
    private readonly store: ContentStore,
    private readonly ref: string,
    private readonly dir: string,
    private readonly dataPath: string,
    private fh: FileHandle,
    private hash: Hash,
    public offset: number,
    private readonly expected: ExpectedBlob,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    const size = this.expected.sizeBytes;
    if (size !== undefined && this.offset + chunk.length > size) {
      await this.abort();
      throw new BerthError(
        'FAILED_PRECONDITION',
        `content ${this.expected.digest}: more than the expected ${size} bytes`,
      );
    }
    await this.fh.write(chunk);
    this.hash.update(chunk);
    this.offset += chunk.length;
  }

  async reset(): Promise<void> {
    this.assertOpen();
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this.offset = 0;
  }

  async commit(): Promise<BlobInfo> {
    this.assertOpen();
    const { digest, sizeBytes } = this.expected;
    const actual = `sha256:${this.hash.copy().digest('hex')}`;
    if ((sizeBytes !== undefined && this.offset !== sizeBytes) || actual !== digest) {
      const got = `${this.offset} bytes with digest ${actual}`;
      await this.abort();
      throw new BerthError(
        'FAILED_PRECONDITION',
        `content ${digest}: got ${got}, expected ${sizeBytes ?? 'any'} bytes with digest ${digest}`,
      );
    }
    await this.fh.sync();
    await this.fh.close();
    const target = this.store.blobPath(digest);
    await rename(this.dataPath, target);
    const blobs = await open(join(target, '..'), 'r');
    try {
      await blobs.sync();
    } finally {
      await blobs.close();
    }
    await rm(this.dir, { recursive: true, force: true });
    this.finish();
    return { digest, sizeBytes: this.offset, createdAtMs: Date.now() };
  }

  async abort(): Promise<void> {
    if (this.isDone) return;
    await this.fh.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    this.finish();
  }

  async close(): Promise<void> {
    if (this.isDone) return;
    await this.fh.close().catch(() => undefined);
    this.finish();
  }

  private finish(): void {
    this.isDone = true;
    this.store.releaseRef(this.ref);
  }

  private assertOpen(): void {
    if (this.isDone) throw new BerthError('FAILED_PRECONDITION', `content writer for "${this.ref}" is closed`);
  }
}
