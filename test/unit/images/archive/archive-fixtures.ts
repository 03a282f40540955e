// Shared helpers for the image archive tests: a temp content store, small images built with the harness
// builders and stored as a pull would store them, hand-made tars, and an archive's entries.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import type { Header } from 'tar-stream';
import { ContentStore } from '../../../../src/content/index.js';
import type { ArchiveImage } from '../../../../src/images/archive/archive-types.js';
import { buildImage, buildLayer } from '../../../harness/oci-image.js';
import type { Compression, OciImage } from '../../../harness/oci-image.js';

export async function withStores(fn: (a: ContentStore, b: ContentStore) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-archive-'));
  const a = new ContentStore(join(root, 'a'));
  const b = new ContentStore(join(root, 'b'));
  try {
    await a.init();
    await b.init();
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Base layer shared by every image below, plus one layer of its own. */
export async function buildImages(compression: Compression = 'gzip'): Promise<{ one: OciImage; two: OciImage }> {
  const base = await buildLayer(
    [
      { type: 'dir', path: 'etc' },
      { type: 'file', path: 'etc/os-release', content: 'ID=berth-test\n' },
      { type: 'symlink', path: 'etc/link', target: 'os-release' },
    ],
    compression,
  );
  const own1 = await buildLayer([{ type: 'file', path: 'one.txt', content: 'one\n'.repeat(1000) }], compression);
  const own2 = await buildLayer([{ type: 'file', path: 'two.txt', content: 'two\n' }], compression);
  return {
    one: buildImage([base, own1], { cmd: ['/one'], labels: { n: '1' } }),
    two: buildImage([base, own2], { cmd: ['/two'], labels: { n: '2' } }),
  };
}

export async function storeImage(store: ContentStore, image: OciImage): Promise<void> {
  for (const blob of [image.config, ...image.layers, image.manifest]) await store.writeBlob(blob.bytes, blob.digest);
}

export function archiveImage(image: OciImage, names: readonly string[]): ArchiveImage {
  return {
    names,
    manifestDigest: image.manifest.digest,
    manifestMediaType: image.manifest.mediaType,
    manifestSizeBytes: image.manifest.size,
  };
}

/** Collects everything written to a fresh PassThrough by `write`. */
export async function capture(write: (out: PassThrough) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    out.on('end', resolve);
    out.on('error', reject);
  });
  ended.catch(() => undefined); // a failed write destroys `out`; its own error is the one to report
  await write(out);
  await ended;
  return Buffer.concat(chunks);
}

export interface TarItem {
  readonly name: string;
  readonly type?: Header['type'];
  readonly body?: Buffer | string;
  readonly linkname?: string;
}

/** A tar of the items in order (tar-stream, as the harness image builder uses it). */
export async function makeTar(items: readonly TarItem[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const item of items) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: item.name, type: item.type ?? 'file', linkname: item.linkname ?? '', mode: 0o644 };
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if ((item.type ?? 'file') === 'file') p.entry(header, Buffer.from(item.body ?? ''), cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** Name, type and bytes of each entry of a tar, in order. */
export async function tarEntries(bytes: Buffer): Promise<{ name: string; type: string; body: Buffer }[]> {
  const ex = extract();
  const out: { name: string; type: string; body: Buffer }[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(Buffer.from(c as Uint8Array));
      out.push({ name: entry.header.name, type: entry.header.type, body: Buffer.concat(parts) });
    }
  })();
  ex.end(bytes);
  await done;
  return out;
}

export function source(bytes: Buffer, chunkBytes = 7000): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkBytes) chunks.push(bytes.subarray(i, i + chunkBytes));
  return Readable.from(chunks);
}
