/**
 * Builds OCI images in memory for tests, byte for byte reproducibly: layer tars (tar-stream) with fixed
 * mode/uid/gid/mtime, deterministic gzip, image configs, manifests and indexes (OCI image spec v1), and
 * pushes them to a registry over the OCI distribution API with the global fetch.
 * Same inputs give the same digests on the same machine (gzip output depends on the zlib build).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Header, Pack } from 'tar-stream';

type TarHeader = Partial<Header> & Pick<Header, 'name'>;

const gzipAsync = promisify(gzipCallback);

export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Every entry and config timestamp defaults to this instant (a fixed SOURCE_DATE_EPOCH). */
export const DEFAULT_MTIME = new Date('2024-01-01T00:00:00Z');
export const DEFAULT_CREATED = DEFAULT_MTIME.toISOString().replace('.000Z', 'Z');

interface EntryMeta {
  /** Path inside the image, with or without a leading "/"; written without it. */
  readonly path: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: Date;
  /** Written as pax `SCHILY.xattr.NAME` records (values as UTF-8: tar-stream writes pax text that way). */
  readonly xattrs?: Readonly<Record<string, string>>;
}

export type LayerEntry =
  | (EntryMeta & { readonly type: 'dir' })
  | (EntryMeta & { readonly type: 'file'; readonly content: string | Buffer })
  | (EntryMeta & { readonly type: 'symlink'; readonly target: string })
  /** target is another path in the same tar (written before this entry), as tar stores it. */
  | (EntryMeta & { readonly type: 'hardlink'; readonly target: string })
  | (EntryMeta & { readonly type: 'chardev' | 'blockdev'; readonly major: number; readonly minor: number })
  | (EntryMeta & { readonly type: 'fifo' });

export type Compression = 'gzip' | 'none';

/** Content-addressed bytes plus the descriptor fields that point at them. */
export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

export interface Layer extends Blob {
  /** sha256 of the uncompressed tar (config rootfs.diff_ids). */
  readonly diffId: string;
  readonly uncompressedSize: number;
  readonly entries: readonly LayerEntry[];
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface ImageConfigOptions {
  readonly architecture?: string;
  readonly os?: string;
  readonly env?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly stopSignal?: string;
  readonly created?: string;
  /** created_by per layer, in order; defaults to "layer N". */
  readonly createdBy?: readonly string[];
}

/** The image config JSON as written (OCI image spec config.md). */
export interface ImageConfig {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly config: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[];
    readonly Cmd?: readonly string[];
    readonly WorkingDir?: string;
    readonly Labels?: Readonly<Record<string, string>>;
    readonly StopSignal?: string;
  };
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly string[] };
  readonly history: readonly { readonly created: string; readonly created_by: string }[];
}

export interface OciImage {
  readonly config: Blob;
  readonly configJson: ImageConfig;
  readonly layers: readonly Layer[];
  readonly manifest: Blob;
  readonly platform: Platform;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** OCI architecture name for a Node process.arch (Go GOARCH names). */
export function ociArchitecture(arch: string = process.arch): string {
  const table: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };
  return table[arch] ?? arch;
}

export function hostPlatform(): Platform {
  return { architecture: ociArchitecture(), os: 'linux' };
}

function tarName(path: string, isDir: boolean): string {
  const name = path.replace(/^\/+/, '');
  return isDir && !name.endsWith('/') ? `${name}/` : name;
}

function tarHeader(entry: LayerEntry): TarHeader {
  const base = {
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    mtime: entry.mtime ?? DEFAULT_MTIME,
    uname: '',
    gname: '',
    ...(entry.xattrs !== undefined && {
      pax: Object.fromEntries(Object.entries(entry.xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v])),
    }),
  };
  switch (entry.type) {
    case 'dir':
      return { ...base, name: tarName(entry.path, true), type: 'directory', mode: entry.mode ?? 0o755 };
    case 'file':
      return { ...base, name: tarName(entry.path, false), type: 'file', mode: entry.mode ?? 0o644 };
    case 'symlink':
      return {
        ...base,
        name: tarName(entry.path, false),
        type: 'symlink',
        mode: entry.mode ?? 0o777,
        linkname: entry.target,
      };
    case 'hardlink':
      return {
        ...base,
        name: tarName(entry.path, false),
        type: 'link',
        mode: entry.mode ?? 0o644,
        linkname: tarName(entry.target, false),
      };
    case 'chardev':
    case 'blockdev':
      return {
        ...base,
        name: tarName(entry.path, false),
        type: entry.type === 'chardev' ? 'character-device' : 'block-device',
        mode: entry.mode ?? 0o644,
        devmajor: entry.major,
        devminor: entry.minor,
      };
    case 'fifo':
      return { ...base, name: tarName(entry.path, false), type: 'fifo', mode: entry.mode ?? 0o644 };
    default:
      return assertNever(entry);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected layer entry ${JSON.stringify(value)}`);
}

/** A tar of the entries, in the given order (parents first is the caller's job). */
export async function buildLayerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const packer = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of packer) {
      if (!(chunk instanceof Uint8Array)) throw new Error('tar-stream produced a non-binary chunk');
      chunks.push(Buffer.from(chunk));
    }
  })();
  for (const entry of entries) await addEntry(packer, entry);
  packer.finalize();
  await collected;
  return Buffer.concat(chunks);
}

function addEntry(packer: Pack, entry: LayerEntry): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (entry.type === 'file') packer.entry(tarHeader(entry), Buffer.from(entry.content), done);
    else packer.entry(tarHeader(entry), done);
  });
}

/**
 * gzip with a reproducible header. zlib writes MTIME 0 and no FNAME when given no header; the MTIME
 * bytes (RFC 1952 section 2.3, offsets 4-7) are zeroed anyway so the digest never depends on the clock.
 */
export async function gzipDeterministic(bytes: Buffer): Promise<Buffer> {
  const gz = await gzipAsync(bytes, { level: 6 });
  gz.writeUInt32LE(0, 4);
  return gz;
}

export async function buildLayer(entries: readonly LayerEntry[], compression: Compression = 'gzip'): Promise<Layer> {
  const tar = await buildLayerTar(entries);
  const bytes = compression === 'gzip' ? await gzipDeterministic(tar) : tar;
  return {
    mediaType: compression === 'gzip' ? MEDIA_TYPE_LAYER_GZIP : MEDIA_TYPE_LAYER,
    digest: sha256Digest(bytes),
    size: bytes.length,
    bytes,
    diffId: sha256Digest(tar),
    uncompressedSize: tar.length,
    entries,
  };
}

/** JSON bytes as a blob (key order as written, no whitespace). */
export function jsonBlob(mediaType: string, value: unknown): Blob {
  const bytes = Buffer.from(JSON.stringify(value));
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

export function descriptorOf(blob: Blob, extra: Pick<Descriptor, 'platform' | 'annotations'> = {}): Descriptor {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...extra };
}

function runConfig(opts: ImageConfigOptions): ImageConfig['config'] {
  return {
    ...(opts.user !== undefined && { User: opts.user }),
    ...(opts.env !== undefined && { Env: opts.env }),
    ...(opts.entrypoint !== undefined && { Entrypoint: opts.entrypoint }),
    ...(opts.cmd !== undefined && { Cmd: opts.cmd }),
    ...(opts.workingDir !== undefined && { WorkingDir: opts.workingDir }),
    ...(opts.labels !== undefined && { Labels: opts.labels }),
    ...(opts.stopSignal !== undefined && { StopSignal: opts.stopSignal }),
  };
}

export function buildImageConfig(layers: readonly Layer[], opts: ImageConfigOptions = {}): ImageConfig {
  const created = opts.created ?? DEFAULT_CREATED;
  return {
    created,
    architecture: opts.architecture ?? ociArchitecture(),
    os: opts.os ?? 'linux',
    config: runConfig(opts),
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: opts.createdBy?.[i] ?? `layer ${i + 1}` })),
  };
}

export function buildManifest(
  config: Blob,
  layers: readonly Blob[],
  annotations?: Readonly<Record<string, string>>,
): Blob {
  return jsonBlob(MEDIA_TYPE_MANIFEST, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: descriptorOf(config),
    layers: layers.map((l) => descriptorOf(l)),
    ...(annotations !== undefined && { annotations }),
  });
}

export function buildIndex(manifests: readonly Descriptor[]): Blob {
  return jsonBlob(MEDIA_TYPE_INDEX, { schemaVersion: 2, mediaType: MEDIA_TYPE_INDEX, manifests });
}

/** Config + manifest for already built layers. */
export function buildImage(layers: readonly Layer[], opts: ImageConfigOptions = {}): OciImage {
  const configJson = buildImageConfig(layers, opts);
  const config = jsonBlob(MEDIA_TYPE_CONFIG, configJson);
  return {
    config,
    configJson,
    layers,
    manifest: buildManifest(config, layers),
    platform: { architecture: configJson.architecture, os: configJson.os },
  };
}

// ---- push (OCI distribution spec: "Pushing blobs", "Pushing Manifests") ----

async function failure(what: string, res: Response): Promise<Error> {
  const body = await res.text().catch(() => '');
  return new Error(`${what}: HTTP ${res.status} ${body.slice(0, 500)}`);
}

export async function blobExists(registryUrl: string, name: string, digest: string): Promise<boolean> {
  const res = await fetch(`${registryUrl}/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
  return res.status === 200;
}

/** POST an upload session, then PUT the whole blob (monolithic upload); skipped when HEAD finds it. */
export async function pushBlob(registryUrl: string, name: string, blob: Blob): Promise<void> {
  if (await blobExists(registryUrl, name, blob.digest)) return;
  const started = await fetch(`${registryUrl}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  const location = started.headers.get('location');
  if (started.status !== 202 || location === null) throw await failure(`start upload to ${name}`, started);
  const url = new URL(location, registryUrl);
  url.searchParams.set('digest', blob.digest);
  const done = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body: blob.bytes,
  });
  if (done.status !== 201) throw await failure(`put blob ${blob.digest} to ${name}`, done);
  await done.arrayBuffer();
}

/** PUT a manifest or index under each reference (tags, or its digest). */
export async function pushManifest(
  registryUrl: string,
  name: string,
  manifest: Blob,
  references: readonly string[],
): Promise<void> {
  for (const reference of references) {
    const res = await fetch(`${registryUrl}/v2/${name}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': manifest.mediaType },
      body: manifest.bytes,
    });
    if (res.status !== 201) throw await failure(`put manifest ${name}:${reference}`, res);
    await res.arrayBuffer();
    const digest = res.headers.get('docker-content-digest');
    if (digest !== null && digest !== manifest.digest) {
      throw new Error(`registry stored ${name}:${reference} as ${digest}, expected ${manifest.digest}`);
    }
  }
}

/** Blobs first (config, layers), then the manifest under every tag; no tags pushes it by digest. */
export async function pushImage(
  registryUrl: string,
  name: string,
  image: OciImage,
  tags: readonly string[] = [],
): Promise<void> {
  await Promise.all([image.config, ...image.layers].map((b) => pushBlob(registryUrl, name, b)));
  await pushManifest(registryUrl, name, image.manifest, tags.length > 0 ? tags : [image.manifest.digest]);
}

/** Each child image by digest (registries require an index's manifests to exist), then the index. */
export async function pushIndex(
  registryUrl: string,
  name: string,
  index: Blob,
  children: readonly OciImage[],
  tags: readonly string[],
): Promise<void> {
  for (const child of children) await pushImage(registryUrl, name, child);
  await pushManifest(registryUrl, name, index, tags.length > 0 ? tags : [index.digest]);
}

// ---- OCI image layout (image-spec image-layout.md), for tools that read one (umoci, skopeo) ----

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/**
 * Writes dir as an OCI image layout holding the image under the tag (index.json entry annotated with
 * org.opencontainers.image.ref.name), every blob under blobs/sha256/<hex>.
 */
export async function writeOciLayout(dir: string, image: OciImage, tag: string): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const blob of [image.config, image.manifest, ...image.layers]) {
    await writeFile(join(blobs, blob.digest.slice('sha256:'.length)), blob.bytes);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_INDEX,
    manifests: [descriptorOf(image.manifest, { annotations: { [REF_NAME_ANNOTATION]: tag } })],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}
