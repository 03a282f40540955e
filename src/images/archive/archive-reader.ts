/**
 * `berth load`: reads a docker or OCI image archive (plain or gzip-compressed tar) in one pass. Every file
 * goes straight into the content store under the digest computed while streaming it (docker archives may
 * put layers before manifest.json, so nothing can wait for the metadata); only the few top-level metadata
 * files are held in memory, capped. Then the format, detected by content, maps paths to digests
 * (docker-archive.ts, oci-archive.ts). Nothing here records a name: a refused archive leaves at most
 * unreferenced blobs, which the next GC removes.
 */
import { BerthError, errorCode } from '../../base/errors.js';
import { importDockerArchive } from './docker-archive.js';
import { importOciLayout } from './oci-archive.js';
import { archivePath, readTar, resolveLink } from './tar-io.js';
import type { TarEntry } from './tar-io.js';
import { MAX_ARCHIVE_ENTRIES, MAX_ARCHIVE_JSON_BYTES } from './archive-types.js';
import type {
  ArchiveContent,
  ArchiveSource,
  ImportedImage,
  ReadArchiveOptions,
  ScannedArchive,
  StoredFile,
} from './archive-types.js';

/** Read whole, capped, never stored as blobs. */
const META_FILES = new Set(['manifest.json', 'index.json', 'oci-layout', 'repositories']);
/** docker save's legacy v1 metadata beside each layer.tar: nothing reads them once manifest.json exists. */
const LEGACY_FILE = /^[0-9a-f]{64}\/(json|VERSION)$/;
const OCI_BLOB = /^blobs\/sha256\/([0-9a-f]{64})$/;
const HEAD_BYTES = 8;

export async function readImageArchive(
  source: ArchiveSource,
  content: ArchiveContent,
  opts: ReadArchiveOptions = {},
): Promise<ImportedImage[]> {
  const what = 'image archive';
  const scan = await scanArchive(source, content, what, opts);
  if (scan.hasMeta('index.json') && (scan.hasMeta('oci-layout') || !scan.hasMeta('manifest.json'))) {
    return importOciLayout(scan, content, opts);
  }
  if (scan.hasMeta('manifest.json')) return importDockerArchive(scan, content, opts);
  throw new BerthError(
    'INVALID_ARGUMENT',
    `${what} holds neither index.json (OCI layout) nor manifest.json (docker save): not an image archive`,
  );
}

async function scanArchive(
  source: ArchiveSource,
  content: ArchiveContent,
  what: string,
  opts: ReadArchiveOptions,
): Promise<ScannedArchive> {
  const meta = new Map<string, Buffer>();
  const files = new Map<string, StoredFile>();
  const links = new Map<string, string>();
  const seen = new Set<string>();
  let entries = 0;

  const onEntry = async ({ header, body }: TarEntry): Promise<void> => {
    if (opts.signal?.aborted) throw new BerthError('CANCELLED', `load of ${what} cancelled`);
    if (++entries > MAX_ARCHIVE_ENTRIES) {
      throw new BerthError('INVALID_ARGUMENT', `${what} has more than ${MAX_ARCHIVE_ENTRIES} entries`);
    }
    const path = archivePath(header.name, what);
    if (header.type === 'directory') return;
    if (path === '') throw new BerthError('INVALID_ARGUMENT', `${what}: a ${header.type} entry names the root`);
    if (seen.has(path)) throw new BerthError('INVALID_ARGUMENT', `${what}: entry ${path} appears twice`);
    seen.add(path);
    switch (header.type) {
      case 'symlink':
        links.set(path, resolveLink(path, header.linkname, what));
        return;
      case 'file':
      case 'contiguous-file':
        break;
      default:
        throw new BerthError(
          'INVALID_ARGUMENT',
          `${what}: entry ${path} is a ${header.type}; an image archive holds only files, directories and symlinks`,
        );
    }
    if (META_FILES.has(path)) {
      meta.set(path, await readCapped(body, `${what}: ${path}`));
    } else if (!LEGACY_FILE.test(path)) {
      files.set(path, await storeEntry(path, body, content, opts));
    }
  };
  await readTar(source as AsyncIterable<Uint8Array>, what, onEntry);

  const aliases = new Map<string, StoredFile>();
  for (const [path, target] of links) {
    const found = files.get(target);
    if (found === undefined) {
      const why = links.has(target) ? 'another symlink' : 'no file in the archive';
      throw new BerthError('INVALID_ARGUMENT', `${what}: symlink ${path} points at ${why} (${target})`);
    }
    aliases.set(path, found);
  }
  return {
    what,
    json(path) {
      const bytes = meta.get(path);
      if (bytes === undefined) throw new BerthError('INVALID_ARGUMENT', `${what} has no ${path}`);
      try {
        return JSON.parse(bytes.toString('utf8')) as unknown;
      } catch {
        throw new BerthError('INVALID_ARGUMENT', `${what}: ${path} is not valid JSON`);
      }
    },
    hasMeta: (path) => meta.has(path),
    file: (path) => files.get(path) ?? aliases.get(path),
  };
}

/** Streams one entry into the content store; an OCI blob path must hash to its name. */
async function storeEntry(
  path: string,
  body: AsyncIterable<Uint8Array>,
  content: ArchiveContent,
  opts: ReadArchiveOptions,
): Promise<StoredFile> {
  const hex = OCI_BLOB.exec(path)?.[1];
  const named = hex === undefined ? undefined : `sha256:${hex}`;
  if (named !== undefined) {
    opts.protect?.(named);
    if (await content.has(named)) {
      // Already stored and verified: no need to hash these bytes again, only to know their start.
      const head = await drainKeepingHead(body);
      return { digest: named, sizeBytes: (await content.info(named)).sizeBytes, head };
    }
  }
  let head = Buffer.alloc(0);
  async function* watched(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
      yield chunk;
    }
  }
  try {
    const info = await content.writeStream(watched(), {
      ...(named !== undefined && { expected: { digest: named } }),
      ...(opts.protect !== undefined && { beforeCommit: opts.protect }),
      ...(opts.signal !== undefined && { signal: opts.signal }),
    });
    return { digest: info.digest, sizeBytes: info.sizeBytes, head };
  } catch (err) {
    if (errorCode(err) === 'FAILED_PRECONDITION' && named !== undefined) {
      throw new BerthError('INVALID_ARGUMENT', `image archive: ${path} does not hash to its name`, { cause: err });
    }
    throw err;
  }
}

/** Reads body to its end (leaving an entry early would tear down the whole tar) and keeps its start. */
async function drainKeepingHead(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  let head = Buffer.alloc(0);
  for await (const chunk of body) {
    if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
  }
  return head;
}

async function readCapped(body: AsyncIterable<Uint8Array>, what: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ARCHIVE_JSON_BYTES) {
      throw new BerthError('INVALID_ARGUMENT', `${what} is over the ${MAX_ARCHIVE_JSON_BYTES} byte limit`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
