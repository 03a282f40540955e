/**
 * Writes a stream of small chunks (fetch bodies, tar entries: 16-64 KiB each) to a file in batches of about
 * BATCH_BYTES. Each FileHandle.write is a round trip to libuv's thread pool; batching cuts those trips ~30x,
 * which is most of the wall time of unpacking a large layer.
 */
import type { FileHandle } from 'node:fs/promises';

export const BATCH_BYTES = 1024 * 1024;

/** Yields the source's bytes regrouped into buffers of at least `size` bytes (the last may be shorter). */
export async function* batched(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size = BATCH_BYTES,
): AsyncGenerator<Buffer> {
  let parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    length += chunk.length;
    if (length >= size) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/** Appends every byte of source at the file's current position; returns the number of bytes written. */
export async function writeBatched(fh: FileHandle, source: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const buf of batched(source)) {
    let offset = 0;
    while (offset < buf.length) {
      const { bytesWritten } = await fh.write(buf, offset, buf.length - offset);
      offset += bytesWritten;
    }
    total += buf.length;
  }
  return total;
}
