/**
 * Pulling an image into the content store: resolve the reference (index -> this platform's manifest),
 * fetch the config and the layers (a few at a time, each blob once even across concurrent pulls,
 * resuming an ingest an earlier interrupted pull left), all under a lease so GC cannot take them.
 * Then each layer is unpacked, in order, into the snapshotter under its chain ID (once per chain ID).
 * TODO(#3): unpack each layer as soon as it and its parent have arrived, instead of after all downloads.
 */
import { BerthError } from '../base/errors.js';
import { SingleFlight } from '../base/single-flight.js';
import type { ContentStore, LeaseManager } from '../content/index.js';
import { chainIds } from '../snapshots/index.js';
import type { OverlaySnapshotter } from '../snapshots/index.js';
import { hostPlatform, parseImageConfig, parseManifestDocument, selectManifest } from './manifest.js';
import type { Descriptor, ImageConfig, Manifest } from './manifest.js';
import type { ImageReference } from './reference.js';
import type { RegistryClient, RegistryCredentials, Repository } from './registry/registry-client.js';
import type { RegistryEndpoint } from './registry/endpoints.js';

export interface PulledImage {
  /** What the reference resolved to: the index digest for a multi-platform image, else the manifest's. */
  readonly resolvedDigest: string;
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly manifestSizeBytes: number;
  readonly configDigest: string;
}

export interface PullOptions {
  readonly credentials?: RegistryCredentials;
  readonly signal?: AbortSignal;
}

export interface PullIntoLease extends PullOptions {
  /** Every blob the pull touches is added to this lease; the caller releases it once the image is recorded. */
  readonly lease: string;
}

const MAX_JSON_BYTES = 4 * 1024 * 1024;

export class ImagePuller {
  private readonly blobFetches = new SingleFlight<string, void>();
  private pullsInFlight = 0;

  constructor(
    private readonly registry: RegistryClient,
    private readonly content: ContentStore,
    private readonly leases: LeaseManager,
    private readonly snapshotter: Pick<OverlaySnapshotter, 'hasLayer' | 'applyLayer'>,
    private readonly maxConcurrentDownloads: number,
  ) {}

  /** True while any pull runs: GC of unpacked layers waits for quiet. */
  isPulling(): boolean {
    return this.pullsInFlight > 0;
  }

  async pull(ref: ImageReference, opts: PullIntoLease): Promise<PulledImage> {
    this.pullsInFlight++;
    try {
      return await this.pullCounted(ref, opts);
    } finally {
      this.pullsInFlight--;
    }
  }

  private async pullCounted(ref: ImageReference, opts: PullIntoLease): Promise<PulledImage> {
    const repo: Repository = { domain: ref.domain, path: ref.path };
    const what = `image "${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}"`;
    const lease = opts.lease;
    let fetched = await this.registry.fetchManifest(repo, ref.digest ?? ref.tag ?? 'latest', opts);
    const resolvedDigest = fetched.digest;
    let doc = parseManifestDocument(fetched.bytes, fetched.mediaType, what);
    if (doc.kind === 'index') {
      await this.keep(lease, fetched.bytes, fetched.digest);
      const chosen = selectManifest(doc.manifests, hostPlatform(), what);
      fetched = await this.registry.fetchManifest(repo, chosen.digest, opts);
      doc = parseManifestDocument(fetched.bytes, chosen.mediaType, what);
      if (doc.kind !== 'manifest') throw new BerthError('INVALID_ARGUMENT', `${what}: index points at an index`);
    }
    const manifest: Manifest = doc.manifest;
    const endpoint = fetched.endpoint;

    await this.fetchBlob(repo, manifest.config, lease, endpoint, opts);
    const config: ImageConfig = parseImageConfig(
      await this.content.readBytes(manifest.config.digest, MAX_JSON_BYTES),
      `config ${manifest.config.digest} of ${what}`,
    );
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${what}: manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`,
      );
    }
    await this.fetchAll(repo, manifest.layers, lease, endpoint, opts);
    await this.unpack(manifest.layers, config.rootfs.diff_ids, opts);
    await this.keep(lease, fetched.bytes, fetched.digest);
    return {
      resolvedDigest,
      manifestDigest: fetched.digest,
      manifestMediaType: manifest.mediaType ?? fetched.mediaType,
      manifestSizeBytes: fetched.bytes.length,
      configDigest: manifest.config.digest,
    };
  }

  private async unpack(layers: readonly Descriptor[], diffIds: readonly string[], opts: PullOptions): Promise<void> {
    const chain = chainIds(diffIds);
    for (const [i, layer] of layers.entries()) {
      const chainId = chain[i]!;
      if (this.snapshotter.hasLayer(chainId)) continue;
      await this.snapshotter.applyLayer(
        chainId,
        i === 0 ? null : chain[i - 1]!,
        this.content.createReadStream(layer.digest),
        diffIds[i]!,
        opts.signal ? { signal: opts.signal } : {},
      );
    }
  }

  private async keep(lease: string, bytes: Buffer, digest: string): Promise<void> {
    this.leases.addResource(lease, digest);
    await this.content.writeBlob(bytes, digest);
  }

  /** Layers with at most maxConcurrentDownloads in flight. */
  private async fetchAll(
    repo: Repository,
    layers: readonly Descriptor[],
    lease: string,
    endpoint: RegistryEndpoint,
    opts: PullOptions,
  ): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < layers.length) {
        const layer = layers[next++]!;
        await this.fetchBlob(repo, layer, lease, endpoint, opts);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.maxConcurrentDownloads) }, worker));
  }

  private async fetchBlob(
    repo: Repository,
    desc: Descriptor,
    lease: string,
    endpoint: RegistryEndpoint,
    opts: PullOptions,
  ): Promise<void> {
    this.leases.addResource(lease, desc.digest);
    if (await this.content.has(desc.digest)) return;
    await this.blobFetches.run(desc.digest, async () => {
      if (await this.content.has(desc.digest)) return;
      // The content store decides whether to resume (Range from its ingest offset) or start over.
      await this.content.writeFrom(
        `pull-${desc.digest}`,
        { digest: desc.digest, sizeBytes: desc.size },
        (offset) => this.registry.fetchBlob(repo, desc.digest, { ...opts, offset, preferred: endpoint }),
        opts.signal ? { signal: opts.signal } : {},
      );
    });
  }
}
