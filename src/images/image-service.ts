/**
 * The images of each namespace: pull, list, status, remove, and the size of the image store.
 * Reads come from memory (ImageIndex + per-image details loaded once from the content store); a pull
 * writes all content first and the name records last, in one transaction, so a listed image is whole.
 */
import { crashPoint } from '../base/crash-point.js';
import { BerthError, errorCode, isResourceExhausted, wrap } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import type { ContentStore, LeaseManager } from '../content/index.js';
import type { EventActions, EventFields, EventSink } from '../events/index.js';
import { chainIds } from '../snapshots/index.js';

/** The part of the snapshotter that image GC uses. */
export interface LayerStore {
  list(): { readonly chainId: string; readonly parent: string | null }[];
  remove(chainId: string): Promise<void>;
}
import type { ImageRecord, ImageRepository } from '../store/index.js';
import { ImageIndex } from './image-index.js';
import type { IndexedImage } from './image-index.js';
import type { ImagePuller, LayerProgress, PullIntoLease, PullOptions } from './image-pull.js';
import type { ImagePusher, PushedImage, PushProgress } from './image-push.js';
import { readImageArchive } from './archive/archive-reader.js';
import { writeImageArchive } from './archive/archive-writer.js';
import type { ArchiveFormat, ArchiveImage } from './archive/archive-types.js';
import type { Readable, Writable } from 'node:stream';
import type { RegistryCredentials } from './registry/registry-client.js';
import { parseImageConfig, parseManifestDocument } from './manifest.js';
import type { ImageConfig } from './manifest.js';
import { looksLikeImageId, nameWithDigest, nameWithTag, parseReference } from './reference.js';
import type { ImageReference } from './reference.js';

export interface ImageDetails {
  readonly config: ImageConfig;
  /** Bytes of the manifest, config and (compressed) layers. */
  readonly sizeBytes: number;
  readonly layerDigests: readonly string[];
}

export interface PruneResult {
  readonly removedImages: readonly string[];
  /** Blob digests removed. */
  readonly removed: readonly string[];
  readonly freedBytes: number;
  readonly removedLayers: number;
}

/** Why a blob is kept: an image name needs it as its index, manifest, config or a layer. */
export interface BlobReference {
  readonly namespace: string;
  readonly image: string;
  readonly role: 'index' | 'manifest' | 'config' | 'layer';
}

/** A blob of the content store with what keeps it (`berth content ls`). */
export interface ContentUse {
  readonly digest: string;
  readonly sizeBytes: number;
  readonly createdAtMs: number;
  readonly references: readonly BlobReference[];
  /** Held by a pull or load that has not named its image yet. */
  readonly isLeased: boolean;
}

export interface ImageView {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly sizeBytes: number;
  /** Numeric user of the image config, when it is numeric. */
  readonly uid: number | undefined;
  /** User name of the image config, when it is not numeric. */
  readonly username: string;
  readonly config: ImageConfig;
  readonly records: readonly ImageRecord[];
}

const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** An interrupted download nobody resumed for a day is abandoned (containerd's default ingest expiry too). */
const STALE_INGEST_MS = 24 * 3600 * 1000;

export class ImageService {
  private readonly details = new Map<string, ImageDetails>();

  private constructor(
    private readonly repo: ImageRepository,
    private readonly content: ContentStore,
    private readonly puller: ImagePuller,
    private readonly leases: LeaseManager,
    private readonly layers: LayerStore,
    private readonly index: ImageIndex,
    private readonly log: Logger,
    private readonly nowNs: () => bigint,
    private readonly imagesInUse: () => ReadonlySet<string>,
    private readonly pusher: ImagePusher | undefined,
    private readonly events: EventSink | undefined,
  ) {}

  /** Builds the index from the store and loads each image's details from the content store. */
  static async open(deps: {
    repo: ImageRepository;
    content: ContentStore;
    puller: ImagePuller;
    leases: LeaseManager;
    layers: LayerStore;
    log: Logger;
    nowNs: () => bigint;
    /** Ids of images some container uses (prune keeps them). TODO(#5): containers provide it. */
    imagesInUse?: () => ReadonlySet<string>;
    pusher?: ImagePusher;
    /** `berth events`: image pulled, tagged, removed, loaded. */
    events?: EventSink;
  }): Promise<ImageService> {
    const svc = new ImageService(
      deps.repo,
      deps.content,
      deps.puller,
      deps.leases,
      deps.layers,
      new ImageIndex(deps.repo.all()),
      deps.log,
      deps.nowNs,
      deps.imagesInUse ?? (() => new Set<string>()),
      deps.pusher,
      deps.events,
    );
    for (const record of svc.index.allRecords()) {
      try {
        await svc.loadDetails(record);
      } catch (err) {
        deps.log.warn({ err, image: record.name }, 'image content is missing or damaged; pull it again');
      }
    }
    await deps.content.cleanupIngests(STALE_INGEST_MS);
    return svc;
  }

  async pull(namespace: string, image: string, opts: PullOptions = {}): Promise<ImageView> {
    if (looksLikeImageId(image))
      throw new BerthError('INVALID_ARGUMENT', `cannot pull an image id ("${image}"): give a name`);
    const ref = parseReference(image);
    // The lease keeps the pulled blobs from GC until the records below name them.
    const lease = this.leases.create({ expiresInMs: 3600_000 });
    const startedNs = this.nowNs();
    // Bytes this pull downloaded (layers already stored, or fetched by a concurrent pull, do not count).
    let downloadedBytes = 0;
    const onProgress = (p: LayerProgress): void => {
      if (p.state === 'downloaded') downloadedBytes += p.totalBytes;
      opts.onProgress?.(p);
    };
    try {
      const view = await this.pullUnderLease(namespace, ref, { ...opts, onProgress, lease });
      this.emit('pulled', namespace, {
        id: view.id,
        name: image,
        bytes: downloadedBytes,
        durationMs: Number(this.nowNs() - startedNs) / 1e6,
      });
      return view;
    } catch (err) {
      // A full disk: say which pull it broke; what it wrote stays unnamed (GC takes it, or a retry reuses it).
      if (isResourceExhausted(err)) throw wrap(err, `pull image "${image}": the image filesystem is full`);
      throw err;
    } finally {
      this.leases.delete(lease);
    }
  }

  private async pullUnderLease(namespace: string, ref: ImageReference, opts: PullIntoLease): Promise<ImageView> {
    const pulled = await this.puller.pull(ref, opts);
    crashPoint('image.pull.before-record');
    const names = [nameWithTag(ref), nameWithDigest(ref, pulled.resolvedDigest)].filter(
      (n): n is string => n !== undefined,
    );
    await this.record(namespace, names, pulled);
    crashPoint('image.pull.after-record');
    return this.view(this.index.getById(namespace, pulled.configDigest)!);
  }

  /** Names an image whose content is all committed: details first, then the records in one transaction. */
  private async record(
    namespace: string,
    names: readonly string[],
    target: {
      readonly manifestDigest: string;
      readonly manifestMediaType: string;
      readonly manifestSizeBytes: number;
      readonly configDigest: string;
    },
  ): Promise<void> {
    const now = this.nowNs();
    const records: ImageRecord[] = names.map((name) => ({
      namespace,
      name,
      targetDigest: target.manifestDigest,
      targetMediaType: target.manifestMediaType,
      targetSizeBytes: target.manifestSizeBytes,
      configDigest: target.configDigest,
      createdAtNs: this.index.getByName(namespace, name)?.createdAtNs ?? now,
      updatedAtNs: now,
      labels: {},
    }));
    await this.loadDetails(records[0]!);
    this.repo.putAll(records);
    for (const r of records) this.index.put(r);
  }

  list(namespace: string): ImageView[] {
    return this.index.list(namespace).flatMap((img) => (this.details.has(img.id) ? [this.view(img)] : []));
  }

  /** The image a name, id, id prefix or digest reference names; undefined when there is none. */
  find(namespace: string, refOrId: string): ImageView | undefined {
    const img = this.resolve(namespace, refOrId);
    return img === undefined || !this.details.has(img.id) ? undefined : this.view(img);
  }

  /**
   * Removes a name, or every name of an image given by id. Removing one tag of several keeps the image.
   * Idempotent: an unknown image is not an error (api.proto RemoveImage), and removing it again still runs
   * GC, so a retry finishes a removal that a crash cut off between the names and the blobs.
   */
  async remove(namespace: string, refOrId: string): Promise<void> {
    const byId = looksLikeImageId(refOrId) || /^[0-9a-f]{3,63}$/.test(refOrId);
    let names: string[];
    if (byId) {
      names = this.index.findById(namespace, refOrId)?.records.map((r) => r.name) ?? [];
    } else {
      const ref = parseReference(refOrId);
      const name = ref.digest ? nameWithDigest(ref, ref.digest) : nameWithTag(ref);
      const record = name === undefined ? undefined : this.index.getByName(namespace, name);
      // Removing the last tag also drops the digest names of that image, as containerd's CRI does.
      const siblings = record ? (this.index.getById(namespace, record.configDigest)?.records ?? []) : [];
      const tags = siblings.filter((r) => !r.name.includes('@'));
      names = record === undefined ? [] : tags.length <= 1 ? siblings.map((r) => r.name) : [record.name];
    }
    if (names.length > 0) {
      const id = this.index.getByName(namespace, names[0]!)?.configDigest ?? '';
      this.repo.deleteAll(namespace, names);
      for (const n of names) this.index.remove(namespace, n);
      this.log.info({ namespace, names }, 'image names removed');
      this.emit('removed', namespace, { id, name: names.join(',') });
      crashPoint('image.remove.after-names');
    }
    await this.collectGarbage();
  }

  /**
   * Gives an image another name (`berth tag`): target must be a tag reference; an existing name moves to
   * this image, as docker tag does. NOT_FOUND when source names no image.
   */
  tag(namespace: string, source: string, target: string): ImageView {
    const img = this.resolve(namespace, source);
    if (img === undefined || !this.details.has(img.id)) {
      throw new BerthError('NOT_FOUND', `image "${source}" not found in namespace ${namespace}`);
    }
    const ref = parseReference(target);
    const name = nameWithTag(ref);
    if (ref.digest !== undefined || name === undefined) {
      throw new BerthError('INVALID_ARGUMENT', `tag target "${target}" must be a name with a tag, not a digest`);
    }
    const from = img.records[0]!;
    const now = this.nowNs();
    const record: ImageRecord = {
      ...from,
      name,
      createdAtNs: this.index.getByName(namespace, name)?.createdAtNs ?? now,
      updatedAtNs: now,
      labels: {},
    };
    this.repo.putAll([record]);
    this.index.put(record);
    this.log.info({ namespace, source, target: name, id: img.id }, 'image tagged');
    this.emit('tagged', namespace, { id: img.id, name, source });
    return this.view(this.index.getById(namespace, img.id)!);
  }

  /**
   * `berth prune` / `rmi --prune`: with images, removes every image of the namespace that no container uses,
   * then collects unreferenced blobs and layers. Returns the removed image ids.
   */
  async prune(namespace: string, opts: { images: boolean }): Promise<PruneResult> {
    const removedImages: string[] = [];
    if (opts.images) {
      const inUse = this.imagesInUse();
      for (const img of this.index.list(namespace)) {
        if (inUse.has(img.id)) continue;
        const names = img.records.map((r) => r.name);
        this.repo.deleteAll(namespace, names);
        for (const n of names) this.index.remove(namespace, n);
        removedImages.push(img.id);
        this.emit('removed', namespace, { id: img.id, name: names.join(',') });
      }
      if (removedImages.length > 0) this.log.info({ namespace, images: removedImages }, 'images pruned');
    }
    const gc = await this.collectGarbage();
    return { removedImages, ...gc };
  }

  /**
   * Pushes an image of the namespace to `target` (default: the image's own first tag). Blobs are mounted from the
   * repository the image came from when the target is on the same registry.
   */
  async push(
    namespace: string,
    image: string,
    target: string,
    opts: { credentials?: RegistryCredentials; signal?: AbortSignal; onProgress?: (p: PushProgress) => void } = {},
  ): Promise<PushedImage> {
    if (this.pusher === undefined) throw new BerthError('UNIMPLEMENTED', 'push is not available in this daemon');
    const img = this.resolve(namespace, image);
    if (img === undefined || !this.details.has(img.id)) {
      throw new BerthError('NOT_FOUND', `image "${image}" not found in namespace ${namespace}`);
    }
    const record = img.records.find((r) => !r.name.includes('@')) ?? img.records[0]!;
    const destination = target !== '' ? target : record.name.includes('@') ? '' : record.name;
    if (destination === '') throw new BerthError('INVALID_ARGUMENT', `image "${image}" has no tag: give a target`);
    const source = parseReference(record.name);
    return this.pusher.push({
      target: parseReference(destination),
      manifestDigest: record.targetDigest,
      manifestMediaType: record.targetMediaType,
      sourceRepository: { domain: source.domain, path: source.path },
      ...opts,
    });
  }

  /**
   * Writes the named images to `out` as a docker-save or OCI archive. A name keeps its tag in the archive;
   * an image given by id is written without tags, as docker does.
   */
  async save(
    namespace: string,
    refs: readonly string[],
    format: ArchiveFormat,
    out: Writable,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    if (refs.length === 0) throw new BerthError('INVALID_ARGUMENT', 'save needs at least one image');
    const byId = new Map<string, { names: Set<string>; record: ImageRecord }>();
    for (const ref of refs) {
      const img = this.resolve(namespace, ref);
      if (img === undefined || !this.details.has(img.id)) {
        throw new BerthError('NOT_FOUND', `image "${ref}" not found in namespace ${namespace}`);
      }
      const entry = byId.get(img.id) ?? { names: new Set<string>(), record: img.records[0]! };
      byId.set(img.id, entry);
      if (!looksLikeImageId(ref) && !/^[0-9a-f]{3,63}$/.test(ref)) {
        const parsed = parseReference(ref);
        const name = parsed.digest === undefined ? nameWithTag(parsed) : undefined;
        if (name !== undefined) entry.names.add(name);
      }
    }
    const images: ArchiveImage[] = [...byId.values()].map(({ names, record }) => ({
      names: [...names],
      manifestDigest: record.targetDigest,
      manifestMediaType: record.targetMediaType,
      manifestSizeBytes: record.targetSizeBytes,
    }));
    await writeImageArchive(out, format, images, this.content, opts.signal ? { signal: opts.signal } : {});
  }

  /**
   * Reads a docker-save or OCI archive (plain or gzip), stores and unpacks its images and names them in the
   * namespace. Images without a tag get an `import-<date>@<digest>` name so they can be listed and removed.
   */
  async load(
    namespace: string,
    source: Readable | AsyncIterable<Uint8Array>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ readonly id: string; readonly names: readonly string[] }[]> {
    const lease = this.leases.create({ expiresInMs: 3600_000 });
    try {
      const imported = await readImageArchive(source, this.content, {
        protect: (d) => this.leases.addResource(lease, d),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const out: { id: string; names: string[] }[] = [];
      for (const img of imported) {
        const doc = parseManifestDocument(
          await this.content.readBytes(img.manifestDigest, MAX_JSON_BYTES),
          img.manifestMediaType,
          `loaded image ${img.manifestDigest}`,
        );
        if (doc.kind !== 'manifest') throw new BerthError('INVALID_ARGUMENT', 'archive entry is not a manifest');
        const config = parseImageConfig(
          await this.content.readBytes(img.configDigest, MAX_JSON_BYTES),
          `config of loaded image ${img.manifestDigest}`,
        );
        await this.puller.unpack(doc.manifest.layers, config.rootfs.diff_ids, opts);
        const names = this.namesForImport(img.names, img.resolvedDigest);
        await this.record(namespace, names, img);
        out.push({ id: img.configDigest, names: names.filter((n) => !n.includes('@')) });
        this.emit('loaded', namespace, { id: img.configDigest, name: names.join(',') });
      }
      this.log.info({ namespace, images: out }, 'images loaded');
      return out;
    } finally {
      this.leases.delete(lease);
    }
  }

  /** Tags, and a digest name per repository (repo@digest), as a pull records them. */
  private namesForImport(tags: readonly string[], digest: string): string[] {
    const names = new Set<string>();
    for (const tag of tags) {
      const ref = parseReference(tag);
      const tagged = nameWithTag(ref);
      if (tagged !== undefined) names.add(tagged);
      names.add(nameWithDigest(ref, digest));
    }
    if (names.size === 0) {
      const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
      const ref = parseReference(`import-${day}@${digest}`);
      names.add(nameWithDigest(ref, digest));
    }
    return [...names];
  }

  /** Every blob with the image names that need it and whether a lease holds it (`berth content ls`). */
  async listContent(): Promise<ContentUse[]> {
    const references = this.blobReferences();
    const leased = this.leases.leasedDigests();
    return (await this.content.list()).map((blob) => ({
      ...blob,
      references: references.get(blob.digest) ?? [],
      isLeased: leased.has(blob.digest),
    }));
  }

  /**
   * Removes one blob (`berth content rm`): FAILED_PRECONDITION while an image name needs it (remove the image,
   * GC then takes its blobs) or a pull or load in progress leases it; NOT_FOUND when it is not stored.
   */
  async deleteContent(digest: string): Promise<void> {
    const users = this.blobReferences().get(digest);
    if (users !== undefined) {
      const first = users[0]!;
      const more = users.length > 1 ? ` and ${users.length - 1} more` : '';
      throw new BerthError(
        'FAILED_PRECONDITION',
        `content ${digest} is the ${first.role} of image "${first.image}" in namespace ${first.namespace}${more}: remove the image first`,
      );
    }
    // Checked in the same tick as the unlink starts: a pull that leases the blob after this sees it gone.
    if (this.leases.isLeased(digest)) {
      throw new BerthError('FAILED_PRECONDITION', `content ${digest} is held by a pull or load in progress`);
    }
    await this.content.delete(digest);
    this.log.info({ digest }, 'content removed');
  }

  /** Chain ID -> the images (namespace/name, one name per image) whose layer chain holds that layer. */
  layerImages(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const image of this.allImages()) {
      const details = this.details.get(image.id);
      if (details === undefined) continue;
      const record = image.records.find((r) => !r.name.includes('@')) ?? image.records[0]!;
      for (const chainId of chainIds(details.config.rootfs.diff_ids)) {
        const users = out.get(chainId) ?? [];
        users.push(`${image.namespace}/${record.name}`);
        out.set(chainId, users);
      }
    }
    return out;
  }

  /**
   * Removes one unpacked layer (`berth snapshots rm`): FAILED_PRECONDITION while an image's chain holds it, a
   * pull or load is unpacking (it may be building on it), or a layer or a container's snapshot stands on it.
   */
  async removeLayer(chainId: string): Promise<void> {
    if (!this.layers.list().some((l) => l.chainId === chainId)) {
      throw new BerthError('NOT_FOUND', `layer ${chainId} not found`);
    }
    const users = this.layerImages().get(chainId);
    if (users !== undefined) {
      const more = users.length > 1 ? ` and ${users.length - 1} more` : '';
      throw new BerthError(
        'FAILED_PRECONDITION',
        `layer ${chainId} is a layer of image "${users[0]!}"${more}: remove the image first`,
      );
    }
    if (this.puller.isPulling()) {
      throw new BerthError(
        'FAILED_PRECONDITION',
        `layer ${chainId}: a pull or load is unpacking layers; try again after it`,
      );
    }
    await this.layers.remove(chainId);
    this.log.info({ chainId }, 'layer removed');
  }

  /** Every image of every namespace. */
  private allImages(): IndexedImage[] {
    const seen = new Map<string, IndexedImage>();
    for (const r of this.index.allRecords()) {
      const key = `${r.namespace}\0${r.configDigest}`;
      if (!seen.has(key)) seen.set(key, this.index.getById(r.namespace, r.configDigest)!);
    }
    return [...seen.values()];
  }

  /** digest -> the image names that need it, and as what. */
  private blobReferences(): Map<string, BlobReference[]> {
    const out = new Map<string, BlobReference[]>();
    const add = (digest: string, ref: BlobReference): void => {
      const refs = out.get(digest) ?? [];
      refs.push(ref);
      out.set(digest, refs);
    };
    for (const r of this.index.allRecords()) {
      const base = { namespace: r.namespace, image: r.name };
      const named = r.name.includes('@') ? r.name.slice(r.name.indexOf('@') + 1) : undefined;
      if (named !== undefined && named !== r.targetDigest) add(named, { ...base, role: 'index' });
      add(r.targetDigest, { ...base, role: 'manifest' });
      add(r.configDigest, { ...base, role: 'config' });
      for (const d of this.details.get(r.configDigest)?.layerDigests ?? []) add(d, { ...base, role: 'layer' });
    }
    return out;
  }

  private emit(action: EventActions['image'], namespace: string, fields: EventFields): void {
    this.events?.publish({ type: 'image', action, namespace, atNs: this.nowNs(), fields });
  }

  /** Removes blobs no image names and no pull in progress holds. */
  async collectGarbage(): Promise<{ removed: string[]; freedBytes: number; removedLayers: number }> {
    for (const id of [...this.details.keys()]) {
      if (!this.index.allIds().has(id)) this.details.delete(id);
    }
    // Leases are checked per blob at unlink time: a pull that starts while GC runs still protects its blobs.
    const result = await this.content.gc(this.referencedDigests(), { leases: this.leases });
    crashPoint('image.gc.after-blobs');
    const staleIngests = await this.content.cleanupIngests(STALE_INGEST_MS);
    const layers = await this.removeUnusedLayers();
    if (result.removed.length > 0 || layers > 0 || staleIngests > 0) {
      this.log.info({ blobs: result.removed.length, freedBytes: result.freedBytes, layers, staleIngests }, 'image GC');
    }
    return { ...result, removedLayers: layers };
  }

  /** Unpacked layers no image's chain uses, removed children first. TODO(#5): keep layers under containers. */
  private async removeUnusedLayers(): Promise<number> {
    if (this.puller.isPulling()) return 0; // a pull may be unpacking a layer no record names yet
    const used = new Set<string>();
    for (const d of this.details.values()) for (const c of chainIds(d.config.rootfs.diff_ids)) used.add(c);
    const all = this.layers.list();
    const parentOf = new Map(all.map((l) => [l.chainId, l.parent]));
    const depth = (c: string): number => {
      let n = 0;
      for (let p = parentOf.get(c) ?? null; p !== null; p = parentOf.get(p) ?? null) n++;
      return n;
    };
    const unused = all.filter((l) => !used.has(l.chainId)).sort((a, b) => depth(b.chainId) - depth(a.chainId));
    let removed = 0;
    for (const l of unused) {
      try {
        await this.layers.remove(l.chainId);
        removed++;
        if (removed < unused.length) crashPoint('image.gc.mid-layers');
      } catch (err) {
        // A container's writable snapshot (or a layer above it) still stands on this layer: keep it.
        if (errorCode(err) !== 'FAILED_PRECONDITION') throw err;
      }
    }
    return removed;
  }

  /** Config digests still named in any namespace, with their blobs: what GC must keep. */
  referencedDigests(): Set<string> {
    return new Set(this.blobReferences().keys());
  }

  private resolve(namespace: string, refOrId: string): IndexedImage | undefined {
    const byId = this.index.findById(namespace, refOrId);
    if (byId !== undefined || looksLikeImageId(refOrId)) return byId;
    let ref;
    try {
      ref = parseReference(refOrId);
    } catch (err) {
      if (/^[0-9a-f]{3,63}$/.test(refOrId)) return undefined;
      throw err;
    }
    const name = ref.digest ? nameWithDigest(ref, ref.digest) : nameWithTag(ref);
    const record = name === undefined ? undefined : this.index.getByName(namespace, name);
    return record === undefined ? undefined : this.index.getById(namespace, record.configDigest);
  }

  private async loadDetails(record: ImageRecord): Promise<void> {
    if (this.details.has(record.configDigest)) return;
    const what = `image ${record.name}`;
    const doc = parseManifestDocument(
      await this.content.readBytes(record.targetDigest, MAX_JSON_BYTES),
      record.targetMediaType,
      what,
    );
    if (doc.kind !== 'manifest') throw new BerthError('DATA_LOSS', `${what}: target is not a manifest`);
    const configBytes = await this.content.readBytes(record.configDigest, MAX_JSON_BYTES);
    const config = parseImageConfig(configBytes, what);
    const layers = doc.manifest.layers;
    const sizeBytes = record.targetSizeBytes + configBytes.length + layers.reduce((n, l) => n + l.size, 0);
    this.details.set(record.configDigest, { config, sizeBytes, layerDigests: layers.map((l) => l.digest) });
  }

  private view(img: IndexedImage): ImageView {
    const details = this.details.get(img.id)!;
    const repoTags = img.records.filter((r) => !r.name.includes('@')).map((r) => r.name);
    // Every pull records a digest name beside the tag (repo@index-or-manifest digest, as containerd does).
    const repoDigests = img.records.filter((r) => r.name.includes('@')).map((r) => r.name);
    const user = (details.config.config?.User ?? '').split(':')[0] ?? '';
    const isNumeric = /^\d+$/.test(user);
    return {
      id: img.id,
      repoTags,
      repoDigests,
      sizeBytes: details.sizeBytes,
      uid: isNumeric ? Number(user) : undefined,
      username: isNumeric ? '' : user,
      config: details.config,
      records: img.records,
    };
  }
}
