/**
 * Reading one image's manifest and config out of the content store for an archive, checked: both formats
 * need the parsed manifest, the config's diff_ids and the certainty that every blob is there with the size
 * its descriptor says, before the first byte of the archive is written.
 */
import { BerthError } from '../../base/errors.js';
import { parseImageConfig, parseManifestDocument } from '../manifest.js';
import type { ImageConfig, Manifest } from '../manifest.js';
import { MAX_ARCHIVE_JSON_BYTES } from './archive-types.js';
import type { ArchiveContent, ArchiveImage } from './archive-types.js';

export interface LoadedImage {
  readonly image: ArchiveImage;
  readonly manifestBytes: Buffer;
  readonly manifest: Manifest;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
}

/** Reads and checks the image; FAILED_PRECONDITION when it is an index or a blob is missing or wrong. */
export async function loadImage(content: ArchiveContent, image: ArchiveImage): Promise<LoadedImage> {
  const what = `image ${image.names[0] ?? image.manifestDigest}`;
  const manifestBytes = await readSmall(content, image.manifestDigest, what);
  const doc = parseManifestDocument(manifestBytes, image.manifestMediaType, what);
  if (doc.kind !== 'manifest') {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `${what}: ${image.manifestDigest} is an index, not a platform manifest`,
    );
  }
  const { manifest } = doc;
  const configBytes = await readSmall(content, manifest.config.digest, what);
  const config = parseImageConfig(configBytes, `config of ${what}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `${what}: manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  for (const desc of [manifest.config, ...manifest.layers]) {
    const info = await content.info(desc.digest).catch((err: unknown) => {
      throw new BerthError('FAILED_PRECONDITION', `${what}: blob ${desc.digest} is missing; pull the image again`, {
        cause: err,
      });
    });
    if (info.sizeBytes !== desc.size) {
      throw new BerthError(
        'DATA_LOSS',
        `${what}: blob ${desc.digest} has ${info.sizeBytes} bytes, its descriptor says ${desc.size}`,
      );
    }
  }
  return { image, manifestBytes, manifest, configBytes, config };
}

async function readSmall(content: ArchiveContent, digest: string, what: string): Promise<Buffer> {
  try {
    return await content.readBytes(digest, MAX_ARCHIVE_JSON_BYTES);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BerthError('FAILED_PRECONDITION', `${what}: cannot read ${digest}: ${why}`, { cause: err });
  }
}
