/**
 * Tar plumbing for image archives, on tar-stream: a writer that streams entries into a Writable with
 * back-pressure, and a reader that walks the entries of a plain or gzip-compressed tar one at a time.
 * Archive paths are only ever keys of a map (nothing is extracted to disk), but they are still checked
 * strictly: absolute names, ".." and NUL are refused, so a hostile archive cannot even name a path outside.
 */
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Header, Pack } from 'tar-stream';
import { BerthError, isBerthError, messageOf } from '../../base/errors.js';

const GZIP_MAGIC = Object.freeze([0x1f, 0x8b]);
const ZSTD_MAGIC = Object.freeze([0x28, 0xb5, 0x2f, 0xfd]);
/** Fixed entry time: the same images always give the same archive bytes. */
const ENTRY_MTIME = new Date(0);

export type Compression = 'gzip' | 'zstd' | 'none';

/** What the first bytes of a stream say it is compressed with. */
export function sniffCompression(head: Uint8Array): Compression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  return 'none';
}

function invalid(what: string, why: string): BerthError {
  return new BerthError('INVALID_ARGUMENT', `${what}: ${why}`);
}

/**
 * The canonical form of a path inside an archive ("./a//b/" -> "a/b"). Absolute paths, ".." components
 * and NUL bytes are INVALID_ARGUMENT; "" is the archive root.
 */
export function archivePath(name: string, what: string): string {
  if (name.includes('\0')) throw invalid(what, `entry name ${JSON.stringify(name)} holds a NUL byte`);
  if (name.startsWith('/')) throw invalid(what, `entry name ${JSON.stringify(name)} is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(what, `entry name ${JSON.stringify(name)} climbs out with ".."`);
  return parts.join('/');
}

/**
 * Where a symlink at `linkPath` points, as an archive path. Targets are relative to the link's directory
 * (docker save links shared layers as "../<id>/layer.tar"); absolute targets and ones that climb above the
 * archive root are INVALID_ARGUMENT.
 */
export function resolveLink(linkPath: string, target: string, what: string): string {
  if (target.includes('\0') || target.startsWith('/')) {
    throw invalid(what, `symlink ${linkPath} points outside the archive (${JSON.stringify(target)})`);
  }
  const parts = linkPath.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p !== '..') parts.push(p);
    else if (parts.pop() === undefined) {
      throw invalid(what, `symlink ${linkPath} points outside the archive (${JSON.stringify(target)})`);
    }
  }
  return parts.join('/');
}

/** The bytes of source, gunzipped when they start with the gzip magic. */
export async function* maybeGunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let isDone = false;
  while (headBytes < GZIP_MAGIC.length) {
    const r = await it.next();
    if (r.done === true) {
      isDone = true;
      break;
    }
    head.push(r.value);
    headBytes += r.value.length;
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    try {
      yield* head;
      if (isDone) return;
      for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
    } finally {
      await it.return?.(); // a reader that stops early closes the source (a file stays open otherwise)
    }
  }
  if (sniffCompression(Buffer.concat(head)) !== 'gzip') {
    yield* all();
    return;
  }
  const gunzip = createGunzip();
  // pipeline destroys gunzip with the source's error, so the loop below fails instead of waiting forever.
  const piping = pipeline(Readable.from(all()), gunzip).catch(() => undefined);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    gunzip.destroy();
    await piping;
  }
}

interface Drainable {
  once(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Resolves when a writable wants more, or is gone (the next write or callback reports why). */
function drained(stream: Drainable): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** One entry of a tar being read; body must be consumed (or is drained) before the next entry comes. */
export interface TarEntry {
  readonly header: Header;
  readonly body: AsyncIterable<Uint8Array>;
}

/**
 * Calls onEntry for each entry of the (maybe gzip-compressed) tar in source, in order. A damaged tar and a
 * failing source are INVALID_ARGUMENT naming `what`; errors thrown by onEntry pass through unchanged.
 */
export async function readTar(
  source: AsyncIterable<Uint8Array>,
  what: string,
  onEntry: (entry: TarEntry) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  let isClosed = false;
  extract.once('close', () => {
    isClosed = true;
  });
  const feed = (async () => {
    try {
      for await (const chunk of maybeGunzip(source)) {
        if (isClosed) return; // the extractor failed or stopped: stop reading the source
        if (!extract.write(chunk)) await drained(extract);
      }
      extract.end(null);
    } catch (err) {
      extract.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  try {
    for await (const entry of extract) {
      const body = entry as unknown as AsyncIterable<Uint8Array>;
      await onEntry({ header: entry.header, body });
      for await (const _ of body); // whatever the handler left unread
    }
  } catch (err) {
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
    await feed;
    if (isBerthError(err)) throw err;
    throw new BerthError('INVALID_ARGUMENT', `${what} is not a readable tar: ${messageOf(err)}`, { cause: err });
  }
  await feed;
}

/** Writes tar entries to a Writable; call close() once at the end (or abort() on failure). */
export class TarWriter {
  private readonly pack: Pack = tar.pack();
  private readonly piping: Promise<void>;
  private readonly seen = new Set<string>();

  constructor(out: Writable) {
    // Through a Node Readable: pipeline then owns both ends, and a failing `out` destroys the pack (whose
    // open entry then fails) instead of surfacing as an unhandled stream error.
    this.piping = pipeline(Readable.from(this.pack as AsyncIterable<Uint8Array>, { objectMode: false }), out);
    this.piping.catch(() => undefined); // observed in close()/abort(); entry writes fail on their own
    // Destroying the pack with an error (Readable.from does, when `out` fails) emits it; it is reported above.
    this.pack.on('error', () => undefined);
  }

  /** Whether path was written already (shared layers are written once). */
  has(path: string): boolean {
    return this.seen.has(path);
  }

  async directory(path: string): Promise<void> {
    this.seen.add(path);
    await this.entry({ name: `${path}/`, type: 'directory', mode: 0o755 }, undefined);
  }

  async file(path: string, bytes: Uint8Array): Promise<void> {
    await this.stream(path, bytes.length, [bytes]);
  }

  /** A file of exactly sizeBytes from source; tar-stream fails the entry when the count differs. */
  async stream(
    path: string,
    sizeBytes: number,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<void> {
    this.seen.add(path);
    await this.entry({ name: path, type: 'file', mode: 0o644, size: sizeBytes }, source);
  }

  async close(): Promise<void> {
    this.pack.finalize();
    await this.piping;
  }

  /** Destroys the output; returns the output's own error when it failed first (a full disk, a closed pipe). */
  async abort(err: Error): Promise<unknown> {
    this.pack.destroy(err);
    try {
      await this.piping;
      return undefined;
    } catch (pipeErr) {
      return pipeErr === err ? undefined : pipeErr;
    }
  }

  private async entry(
    header: Partial<Header> & Pick<Header, 'name'>,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined,
  ): Promise<void> {
    const full = { uid: 0, gid: 0, uname: '', gname: '', mtime: ENTRY_MTIME, ...header };
    let sink: ReturnType<Pack['entry']> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry(full, (err) => (err ? reject(err) : resolve()));
    });
    done.catch(() => undefined); // may fail while the body is still being written; awaited below
    sink?.on('error', () => undefined); // the same failure, reported through `done`
    if (source !== undefined && sink !== undefined) {
      const s = sink;
      for await (const chunk of source) {
        if (s.destroyed) break;
        if (!s.write(chunk)) await drained(s);
      }
      s.end(null);
    }
    try {
      await done;
    } catch (err) {
      throw new BerthError('INTERNAL', `write archive entry ${header.name}: ${messageOf(err)}`, { cause: err });
    }
  }
}
