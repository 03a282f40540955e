/**
 * Shared vocabulary of image archives (`berth save` / `berth load`): what is written, what comes back, the
 * narrow slice of the content store the archive code uses, and the names and limits both formats share.
 *
 *   docker: what `docker save` writes: manifest.json [{Config, RepoTags, Layers}], `repositories`, the config
 *           as <hex>.json and every layer as an UNcompressed tar (docker load and skopeo accept only those).
 *   oci:    an OCI image layout in a tar (oci-layout, index.json, blobs/sha256/<hex>), as `ctr export` and
 *           `skopeo copy ... oci-archive:` write; names in the io.containerd.image.name and
 *           org.opencontainers.image.ref.name annotations of each index.json entry.
 */
import type { Readable } from 'node:stream';
import type { BlobInfo, ContentStore } from '../../content/index.js';
import type { Platform } from '../manifest.js';

export type ArchiveFormat = 'docker' | 'oci';

/** One image to save: a platform manifest in the content store and the names it goes by. */
export interface ArchiveImage {
  /** Normalised full references ("docker.io/library/busybox:latest"); digest names are not written. */
  readonly names: readonly string[];
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly manifestSizeBytes: number;
}

/** One image an archive held, with all its blobs in the content store; the caller records the names. */
export interface ImportedImage {
  /** Normalised full references, tagged (or digest names whose digest is this image's); may be empty. */
  readonly names: readonly string[];
  /** What the archive's entry pointed at: an index digest for a multi-platform entry, else manifestDigest. */
  readonly resolvedDigest: string;
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly manifestSizeBytes: number;
  /** The CRI image id. */
  readonly configDigest: string;
  /** Layer blob digests in order (what the caller unpacks). */
  readonly layerDigests: readonly string[];
}

/** The content store as the archive code uses it. */
export type ArchiveContent = Pick<
  ContentStore,
  'has' | 'info' | 'readBytes' | 'createReadStream' | 'writeBlob' | 'writeStream'
>;

export interface ReadArchiveOptions {
  /**
   * Called with every digest the import stores or reuses, before it is visible to GC: the caller adds it
   * to a lease (LeaseManager.addResource) and drops the lease once the names are recorded.
   */
  readonly protect?: (digest: string) => void;
  /** Whose manifest to keep from a multi-platform entry; this machine's by default. */
  readonly platform?: Platform;
  readonly signal?: AbortSignal;
}

/** A file of the archive, now a blob in the content store. */
export interface StoredFile {
  readonly digest: string;
  readonly sizeBytes: number;
  /** Its first bytes, to sniff a docker layer's compression without reading it again. */
  readonly head: Buffer;
}

/** What one pass over the archive found; the format readers work on this alone. */
export interface ScannedArchive {
  readonly what: string;
  /** A top-level metadata file (manifest.json, index.json, oci-layout, repositories), parsed as JSON. */
  json(path: string): unknown;
  hasMeta(path: string): boolean;
  /** The blob behind an archive path, following symlinks between files; undefined when absent. */
  file(path: string): StoredFile | undefined;
}

export type ArchiveSource = Readable | AsyncIterable<Uint8Array>;
export type { BlobInfo };

export const ANNOTATION = Object.freeze({
  /** containerd's full image name ("docker.io/library/busybox:latest"). */
  imageName: 'io.containerd.image.name',
  /** OCI image layout: the tag ("latest"), or a full name as skopeo writes it ("busybox:latest"). */
  refName: 'org.opencontainers.image.ref.name',
});

export const DOCKER_MEDIA_TYPE = Object.freeze({
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
});

/** manifest.json, index.json, oci-layout, repositories, manifests and configs are read whole up to this. */
export const MAX_ARCHIVE_JSON_BYTES = 8 * 1024 * 1024;
/** A bound on entries, so a tar of millions of empty files cannot keep an import busy for long. */
export const MAX_ARCHIVE_ENTRIES = 100_000;
