/**
 * `berth save`: writes images from the content store as one docker or OCI archive (a plain tar) to a
 * Writable. Every image is read and checked first (manifest, config, blob sizes), so a missing blob fails
 * before a byte is written; a failure after that destroys the output, so a truncated archive is never
 * mistaken for a whole one.
 */
import type { Writable } from 'node:stream';
import { BerthError, messageOf } from '../../base/errors.js';
import { writeDockerArchive } from './docker-archive.js';
import { loadImage } from './image-blobs.js';
import type { LoadedImage } from './image-blobs.js';
import { writeOciLayout } from './oci-archive.js';
import { TarWriter } from './tar-io.js';
import type { ArchiveContent, ArchiveFormat, ArchiveImage } from './archive-types.js';

export async function writeImageArchive(
  out: Writable,
  format: ArchiveFormat,
  images: readonly ArchiveImage[],
  content: ArchiveContent,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  if (images.length === 0) throw new BerthError('INVALID_ARGUMENT', 'save needs at least one image');
  const loaded: LoadedImage[] = [];
  for (const image of images) loaded.push(await loadImage(content, image));
  const tar = new TarWriter(out);
  const onAbort = (): void => void tar.abort(new BerthError('CANCELLED', 'save cancelled'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted) throw new BerthError('CANCELLED', 'save cancelled');
    switch (format) {
      case 'docker':
        await writeDockerArchive(tar, loaded, content);
        break;
      case 'oci':
        await writeOciLayout(tar, loaded, content);
        break;
      default:
        throw new BerthError('INVALID_ARGUMENT', `unknown archive format ${JSON.stringify(format)}`);
    }
    await tar.close();
  } catch (err) {
    const outErr = await tar.abort(err instanceof Error ? err : new Error(String(err)));
    if (opts.signal?.aborted) throw new BerthError('CANCELLED', 'save cancelled', { cause: err });
    if (outErr !== undefined) {
      throw new BerthError('UNAVAILABLE', `write image archive: ${messageOf(outErr)}`, { cause: outErr });
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
