/**
 * Docker archives (`docker save` / `docker load`, skopeo's docker-archive:) in both directions.
 *
 * Written as docker writes them: <configHex>.json, <chainIdHex>/layer.tar (one directory per chain ID, so a
 * layer shared by several images is written once), then manifest.json and `repositories`, with RepoTags in
 * docker's familiar form ("busybox:latest"). Layers are UNcompressed tars (docker load and skopeo want
 * their bytes to hash to the config's diff_ids), so a gzip layer is gunzipped twice: once to learn its
 * size (a tar header comes first) and check its diff_id, once to write it; no temp file is needed.
 *
 * Read: manifest.json maps each image to files, which the scan already stored; a Docker schema2 manifest
 * is made for them (layer media type by sniffing the bytes, as docker's own loader does not record it).
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { BerthError } from '../../base/errors.js';
import { sha256Digest } from '../../content/index.js';
import { chainIds } from '../../snapshots/index.js';
import { MEDIA_TYPE, parseImageConfig } from '../manifest.js';
import { familiarName, nameWithTag, parseReference } from '../reference.js';
import { DOCKER_MEDIA_TYPE, MAX_ARCHIVE_JSON_BYTES } from './archive-types.js';
import type { ArchiveContent, ImportedImage, ReadArchiveOptions, ScannedArchive, StoredFile } from './archive-types.js';
import type { LoadedImage } from './image-blobs.js';
import { archivePath, sniffCompression } from './tar-io.js';
import type { TarWriter } from './tar-io.js';

const ManifestJsonSchema = z.array(
  z.looseObject({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);

const hexOf = (digest: string): string => digest.slice('sha256:'.length);

export async function writeDockerArchive(
  tar: TarWriter,
  images: readonly LoadedImage[],
  content: ArchiveContent,
): Promise<void> {
  const manifestJson: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const loaded of images) {
    const { manifest, config } = loaded;
    const configPath = `${hexOf(manifest.config.digest)}.json`;
    if (!tar.has(configPath)) await tar.file(configPath, loaded.configBytes);
    const diffIds = config.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    const layerPaths: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const dir = hexOf(chain[i]!);
      const path = `${dir}/layer.tar`;
      layerPaths.push(path);
      if (tar.has(path)) continue;
      await tar.directory(dir);
      await writeUncompressedLayer(tar, path, layer.digest, diffIds[i]!, content);
    }
    const tags = familiarTags(loaded.image.names);
    manifestJson.push({ Config: configPath, RepoTags: tags.length > 0 ? tags : null, Layers: layerPaths });
    const top = chain.at(-1);
    for (const name of loaded.image.names) {
      const ref = parseReference(name);
      if (ref.tag === undefined || ref.digest !== undefined || top === undefined) continue;
      const repo = familiarName({ ...ref, tag: undefined });
      (repositories[repo] ??= {})[ref.tag] = hexOf(top);
    }
  }
  await tar.file('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
  await tar.file('repositories', Buffer.from(JSON.stringify(repositories)));
}

/** "busybox:latest" for each tagged name; digest names have no place in RepoTags. */
function familiarTags(names: readonly string[]): string[] {
  return names.flatMap((n) => {
    const ref = parseReference(n);
    return ref.tag !== undefined && ref.digest === undefined ? [familiarName(ref)] : [];
  });
}

async function writeUncompressedLayer(
  tar: TarWriter,
  path: string,
  digest: string,
  diffId: string,
  content: ArchiveContent,
): Promise<void> {
  const compression = sniffCompression(await readHead(content, digest));
  if (compression === 'zstd') {
    throw new BerthError('UNIMPLEMENTED', `layer ${digest} is zstd-compressed, which docker archives cannot hold`);
  }
  if (compression === 'none') {
    if (digest !== diffId) throw new BerthError('DATA_LOSS', `layer ${digest} does not match its diff_id ${diffId}`);
    await tar.stream(path, (await content.info(digest)).sizeBytes, content.createReadStream(digest));
    return;
  }
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of gunzipped(content, digest)) {
    hash.update(chunk);
    sizeBytes += chunk.length;
  }
  if (`sha256:${hash.digest('hex')}` !== diffId) {
    throw new BerthError('DATA_LOSS', `layer ${digest} does not uncompress to its diff_id ${diffId}`);
  }
  await tar.stream(path, sizeBytes, gunzipped(content, digest));
}

async function* gunzipped(content: ArchiveContent, digest: string): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  const piping = pipeline(content.createReadStream(digest), gunzip).catch(() => undefined);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    throw new BerthError('DATA_LOSS', `layer ${digest} is not valid gzip: ${String(err)}`, { cause: err });
  } finally {
    gunzip.destroy();
    await piping;
  }
}

async function readHead(content: ArchiveContent, digest: string): Promise<Buffer> {
  const stream = content.createReadStream(digest);
  try {
    for await (const chunk of stream) return (chunk as Buffer).subarray(0, 8);
    return Buffer.alloc(0);
  } finally {
    stream.destroy();
  }
}

export async function importDockerArchive(
  scan: ScannedArchive,
  content: ArchiveContent,
  opts: ReadArchiveOptions,
): Promise<ImportedImage[]> {
  const { what } = scan;
  const parsed = ManifestJsonSchema.safeParse(scan.json('manifest.json'));
  if (!parsed.success) {
    throw new BerthError('INVALID_ARGUMENT', `${what}: manifest.json is malformed: ${parsed.error.message}`);
  }
  if (parsed.data.length === 0) throw new BerthError('INVALID_ARGUMENT', `${what}: manifest.json lists no images`);
  const fileOf = (path: string): StoredFile => {
    const found = scan.file(archivePath(path, what));
    if (found === undefined) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${what}: manifest.json names ${JSON.stringify(path)}, which is not in the archive`,
      );
    }
    return found;
  };
  const found = new Map<string, ImportedImage>();
  for (const [n, entry] of parsed.data.entries()) {
    const image = `${what}: image ${n + 1} (${entry.Config})`;
    const configFile = fileOf(entry.Config);
    const layerFiles = entry.Layers.map(fileOf);
    if (configFile.sizeBytes > MAX_ARCHIVE_JSON_BYTES) {
      throw new BerthError('INVALID_ARGUMENT', `${image}: the config is over ${MAX_ARCHIVE_JSON_BYTES} bytes`);
    }
    const config = parseImageConfig(await content.readBytes(configFile.digest, MAX_ARCHIVE_JSON_BYTES), image);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layerFiles.length) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${image}: manifest.json lists ${layerFiles.length} layers but the config lists ${diffIds.length} diff_ids`,
      );
    }
    const layers = layerFiles.map((f, i) => ({
      mediaType: layerMediaType(f, diffIds[i]!, image),
      size: f.sizeBytes,
      digest: f.digest,
    }));
    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.dockerManifest,
        config: { mediaType: DOCKER_MEDIA_TYPE.config, size: configFile.sizeBytes, digest: configFile.digest },
        layers,
      }),
    );
    const manifestDigest = await storeManifest(content, manifestBytes, opts);
    const names = (entry.RepoTags ?? []).map((tag) => {
      try {
        return nameWithTag(parseReference(tag))!;
      } catch (err) {
        throw new BerthError('INVALID_ARGUMENT', `${image}: bad RepoTags entry ${JSON.stringify(tag)}`, { cause: err });
      }
    });
    const previous = found.get(manifestDigest);
    found.set(manifestDigest, {
      names: [...new Set([...(previous?.names ?? []), ...names])],
      resolvedDigest: manifestDigest,
      manifestDigest,
      manifestMediaType: MEDIA_TYPE.dockerManifest,
      manifestSizeBytes: manifestBytes.length,
      configDigest: configFile.digest,
      layerDigests: layers.map((l) => l.digest),
    });
  }
  return [...found.values()];
}

/**
 * docker load checks every layer against the config's diff_ids; an uncompressed layer can be checked here
 * for free (its digest is its diff_id). A gzip layer is checked when it is unpacked.
 */
function layerMediaType(file: StoredFile, diffId: string, what: string): string {
  switch (sniffCompression(file.head)) {
    case 'gzip':
      return DOCKER_MEDIA_TYPE.layerGzip;
    case 'zstd':
      throw new BerthError(
        'UNIMPLEMENTED',
        `${what}: layer ${file.digest} is zstd-compressed, which is not supported yet`,
      );
    case 'none':
      if (file.digest !== diffId) {
        throw new BerthError('INVALID_ARGUMENT', `${what}: layer ${file.digest} does not match its diff_id ${diffId}`);
      }
      return DOCKER_MEDIA_TYPE.layer;
  }
}

async function storeManifest(content: ArchiveContent, bytes: Buffer, opts: ReadArchiveOptions): Promise<string> {
  const digest = sha256Digest(bytes);
  opts.protect?.(digest);
  return content.writeBlob(bytes, digest);
}
