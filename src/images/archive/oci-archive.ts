/**
 * OCI image layout archives (image-spec image-layout.md) in both directions. Written like `ctr export`: one
 * index.json entry per name, annotated with io.containerd.image.name (full name) and
 * org.opencontainers.image.ref.name (tag); blobs as stored (compressed layers stay compressed). Read from
 * `ctr export`, `skopeo copy ... oci-archive:` and docker 25+ `docker save` output.
 */
import { z } from 'zod';
import { BerthError } from '../../base/errors.js';
import { sha256Digest } from '../../content/index.js';
import {
  DescriptorSchema,
  hostPlatform,
  MEDIA_TYPE,
  parseImageConfig,
  parseManifestDocument,
  selectManifest,
} from '../manifest.js';
import type { Descriptor, Platform } from '../manifest.js';
import { nameWithDigest, nameWithTag, parseReference } from '../reference.js';
import { ANNOTATION, DOCKER_MEDIA_TYPE, MAX_ARCHIVE_JSON_BYTES } from './archive-types.js';
import type { ArchiveContent, ImportedImage, ReadArchiveOptions, ScannedArchive } from './archive-types.js';
import type { LoadedImage } from './image-blobs.js';
import type { TarWriter } from './tar-io.js';

const LAYOUT_VERSION = '1.0.0';
/** A ref.name with nothing but tag characters is a tag, which names no repository. */
const TAG_ONLY = /^[\w][\w.-]{0,127}$/;

const LayoutSchema = z.looseObject({ imageLayoutVersion: z.string() });
const IndexSchema = z.looseObject({ schemaVersion: z.literal(2), manifests: z.array(DescriptorSchema) });

export async function writeOciLayout(
  tar: TarWriter,
  images: readonly LoadedImage[],
  content: ArchiveContent,
): Promise<void> {
  await tar.file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })));
  await tar.directory('blobs');
  await tar.directory('blobs/sha256');
  const entries: Descriptor[] = [];
  for (const loaded of images) {
    const { image, manifest } = loaded;
    for (const desc of [manifest.config, ...manifest.layers]) {
      const path = blobPath(desc.digest);
      if (!tar.has(path)) await tar.stream(path, desc.size, content.createReadStream(desc.digest));
    }
    const written = asOciManifest(loaded);
    const desc = { mediaType: written.mediaType, digest: sha256Digest(written.bytes), size: written.bytes.length };
    const path = blobPath(desc.digest);
    if (!tar.has(path)) await tar.file(path, written.bytes);
    const tagged = image.names.flatMap((n) => {
      const ref = parseReference(n);
      return ref.tag !== undefined && ref.digest === undefined ? [{ name: nameWithTag(ref)!, tag: ref.tag }] : [];
    });
    if (tagged.length === 0) entries.push(desc);
    for (const { name, tag } of tagged) {
      entries.push({ ...desc, annotations: { [ANNOTATION.imageName]: name, [ANNOTATION.refName]: tag } });
    }
  }
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: entries };
  await tar.file('index.json', Buffer.from(JSON.stringify(index)));
}

/** Docker media types and their OCI equivalents (image-spec media-types.md, "Compatibility Matrix"). */
const OCI_MEDIA_TYPE_OF: Readonly<Record<string, string>> = Object.freeze({
  [DOCKER_MEDIA_TYPE.config]: MEDIA_TYPE.ociConfig,
  [DOCKER_MEDIA_TYPE.layer]: 'application/vnd.oci.image.layer.v1.tar',
  [DOCKER_MEDIA_TYPE.layerGzip]: 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip':
    'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
});

/**
 * The manifest as an OCI layout carries it. containers/image (skopeo, podman) skips index.json entries
 * that are not OCI media types, so a Docker schema2 manifest is rewritten as the equivalent OCI manifest,
 * as `podman save --format oci-archive` does. Config and layer bytes are unchanged, so the image id (the
 * config digest) and the diff_ids stay the same; only the manifest digest differs, in the archive alone.
 */
function asOciManifest(loaded: LoadedImage): { bytes: Buffer; mediaType: string } {
  const { manifest } = loaded;
  const mediaType = manifest.mediaType ?? loaded.image.manifestMediaType;
  if (mediaType !== MEDIA_TYPE.dockerManifest) return { bytes: loaded.manifestBytes, mediaType };
  const convert = <T extends { mediaType: string }>(d: T): T => ({
    ...d,
    mediaType: OCI_MEDIA_TYPE_OF[d.mediaType] ?? d.mediaType,
  });
  const oci = {
    ...manifest,
    mediaType: MEDIA_TYPE.ociManifest,
    config: convert(manifest.config),
    layers: manifest.layers.map(convert),
  };
  return { bytes: Buffer.from(JSON.stringify(oci)), mediaType: MEDIA_TYPE.ociManifest };
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

export async function importOciLayout(
  scan: ScannedArchive,
  content: ArchiveContent,
  opts: ReadArchiveOptions,
): Promise<ImportedImage[]> {
  const { what } = scan;
  const platform = opts.platform ?? hostPlatform();
  const layout = LayoutSchema.safeParse(scan.json('oci-layout'));
  if (!layout.success || layout.data.imageLayoutVersion !== LAYOUT_VERSION) {
    throw new BerthError('INVALID_ARGUMENT', `${what}: oci-layout does not say imageLayoutVersion "${LAYOUT_VERSION}"`);
  }
  const index = IndexSchema.safeParse(scan.json('index.json'));
  if (!index.success) {
    throw new BerthError('INVALID_ARGUMENT', `${what}: index.json is not an OCI image index: ${index.error.message}`);
  }
  const blobs = new LayoutBlobs(scan, content, opts);
  const found = new Map<string, ImportedImage>();
  const candidates = index.data.manifests.filter((d) => d.platform === undefined || isPlatform(d, platform));
  if (index.data.manifests.length === 0)
    throw new BerthError('INVALID_ARGUMENT', `${what}: index.json lists no images`);
  if (candidates.length === 0) selectManifest(index.data.manifests, platform, `${what} index.json`); // NOT_FOUND
  for (const top of candidates) {
    const image = await importEntry(top, blobs, platform, what);
    const previous = found.get(image.manifestDigest);
    const names = [...(previous?.names ?? []), ...image.names.filter((n) => !previous?.names.includes(n))];
    found.set(image.manifestDigest, { ...(previous ?? image), names });
  }
  return [...found.values()];
}

function isPlatform(desc: Descriptor, platform: Platform): boolean {
  try {
    selectManifest([desc], platform, 'entry');
    return true;
  } catch {
    return false;
  }
}

async function importEntry(
  top: Descriptor,
  blobs: LayoutBlobs,
  platform: Platform,
  archive: string,
): Promise<ImportedImage> {
  const what = `${archive}: image ${top.annotations?.[ANNOTATION.imageName] ?? top.digest}`;
  let desc = top;
  let doc = parseManifestDocument(await blobs.readSmall(desc), desc.mediaType, what);
  if (doc.kind === 'index') {
    desc = selectManifest(doc.manifests, platform, what);
    doc = parseManifestDocument(await blobs.readSmall(desc), desc.mediaType, what);
    if (doc.kind !== 'manifest') throw new BerthError('INVALID_ARGUMENT', `${what}: index points at an index`);
  }
  const { manifest } = doc;
  const config = parseImageConfig(await blobs.readSmall(manifest.config), `config of ${what}`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `${what}: manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  for (const layer of manifest.layers) await blobs.require(layer);
  return {
    names: namesOf(top, [top.digest, desc.digest], what),
    resolvedDigest: top.digest,
    manifestDigest: desc.digest,
    manifestMediaType: manifest.mediaType ?? desc.mediaType,
    manifestSizeBytes: desc.size,
    configDigest: manifest.config.digest,
    layerDigests: manifest.layers.map((l) => l.digest),
  };
}

/**
 * The name an index.json entry gives: io.containerd.image.name, else a ref.name that is a full reference
 * (skopeo writes "busybox:latest"). A bare tag names no repository, so it gives no name. A digest name
 * counts only when its digest is this image's.
 */
function namesOf(desc: Descriptor, digests: readonly string[], what: string): string[] {
  const full = desc.annotations?.[ANNOTATION.imageName];
  const refName = desc.annotations?.[ANNOTATION.refName];
  const candidate = full ?? (refName !== undefined && !TAG_ONLY.test(refName) ? refName : undefined);
  if (candidate === undefined) return [];
  let ref;
  try {
    ref = parseReference(candidate);
  } catch (err) {
    throw new BerthError('INVALID_ARGUMENT', `${what}: bad image name in index.json`, { cause: err });
  }
  const names: string[] = [];
  const tagged = nameWithTag(ref);
  if (tagged !== undefined) names.push(tagged);
  if (ref.digest !== undefined && digests.includes(ref.digest)) names.push(nameWithDigest(ref, ref.digest));
  return names;
}

/** Blobs an index.json names: from the archive, or already in the store; sizes must match descriptors. */
class LayoutBlobs {
  constructor(
    private readonly scan: ScannedArchive,
    private readonly content: ArchiveContent,
    private readonly opts: ReadArchiveOptions,
  ) {}

  async require(desc: Descriptor): Promise<void> {
    const path = blobPath(desc.digest);
    const inArchive = this.scan.file(path);
    let sizeBytes = inArchive?.sizeBytes;
    if (sizeBytes === undefined) {
      this.opts.protect?.(desc.digest);
      if (!(await this.content.has(desc.digest))) {
        throw new BerthError('INVALID_ARGUMENT', `${this.scan.what}: blob ${desc.digest} is not in the archive`);
      }
      sizeBytes = (await this.content.info(desc.digest)).sizeBytes;
    }
    if (sizeBytes !== desc.size) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${this.scan.what}: blob ${desc.digest} has ${sizeBytes} bytes, its descriptor says ${desc.size}`,
      );
    }
  }

  async readSmall(desc: Descriptor): Promise<Buffer> {
    await this.require(desc);
    if (desc.size > MAX_ARCHIVE_JSON_BYTES) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${this.scan.what}: ${desc.digest} is too large for a manifest or config`,
      );
    }
    return this.content.readBytes(desc.digest, MAX_ARCHIVE_JSON_BYTES);
  }
}
