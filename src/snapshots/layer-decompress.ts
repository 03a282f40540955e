/**
 * Turns a layer blob into its tar bytes, whatever the compression: gzip (node:zlib), zstd (fzstd, a
 * maintained pure-JS decoder, since Node 20's zlib has no zstd) or none. The format is sniffed from the
 * magic bytes rather than taken from the media type, as containerd does: registries and archives
 * mislabel layers, the bytes do not lie.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { BerthError, isBerthError, messageOf } from '../base/errors.js';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const SNIFF_BYTES = ZSTD_MAGIC.length;

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export function sniffCompression(head: Uint8Array): LayerCompression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  return 'none';
}

/** Yields the uncompressed bytes of a layer; a corrupt stream is INVALID_ARGUMENT naming the layer. */
export async function* decompressLayer(source: AsyncIterable<Uint8Array>, layer: string): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let headLength = 0;
  let isDone = false;
  while (headLength < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      isDone = true;
      break;
    }
    headChunks.push(Buffer.from(r.value));
    headLength += r.value.length;
  }
  if (headLength === 0) return;
  const head = Buffer.concat(headChunks);
  const all = (async function* (): AsyncGenerator<Buffer> {
    yield head;
    if (isDone) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  })();
  const compression = sniffCompression(head);
  try {
    if (compression === 'gzip')
      yield* Readable.from(all).pipe(createGunzip({ chunkSize: 256 * 1024 })) as AsyncIterable<Buffer>;
    else if (compression === 'zstd') yield* unzstd(all);
    else yield* all;
  } catch (err) {
    if (isBerthError(err)) throw err;
    throw new BerthError('INVALID_ARGUMENT', `layer ${layer}: bad ${compression} data: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

async function* unzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const decoder = new Decompress((data) => {
    out.push(Buffer.from(data));
  });
  for await (const chunk of source) {
    decoder.push(chunk);
    yield* out.splice(0);
  }
  decoder.push(new Uint8Array(0), true);
  yield* out.splice(0);
}
