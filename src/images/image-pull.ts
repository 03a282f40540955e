/**
 * Pulling an image into the content store: resolve the reference (index -> this platform's manifest),
 * fetch the config and the layers (a few at a time, each blob once even across concurrent pulls,
 * resuming an ingest an earlier interrupted pull left), all under a lease so GC cannot take them.
 * Each layer is unpacked into the snapshotter under its chain ID (once per chain ID) as soon as it and the
 * layers below it have arrived, while later layers are still downloading, as containerd's unpacker does.
 * Listeners get per-layer progress (bytes and state), which the admin service streams to `berth pull`.
 * A download the registry cuts off part-way (connection reset, or silent for the request timeout) is resumed
 * from where it stopped (HTTP Range), up to MAX_RESUMES times per blob; a registry that cannot be reached at
 * all fails the pull at once with UNAVAILABLE (the kubelet retries pulls with its own backoff).
 */
import { crashPoint } from '../base/crash-point.js';
import { setTimeout as delay } from 'node:timers/promises';
import { BerthError, errorCode, wrap } from '../base/errors.js';
import { SingleFlight } from '../base/single-flight.js';
import type { ContentStore, LeaseManager } from '../content/index.js';
import { chainIds } from '../snapshots/index.js';
import type { Snapshotter } from '../snapshots/index.js';
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

export type LayerState = 'waiting' | 'exists' | 'downloading' | 'downloaded' | 'unpacking' | 'unpacked';

export interface LayerProgress {
  readonly digest: string;
  readonly state: LayerState;
  readonly currentBytes: number;
  readonly totalBytes: number;
}

export interface PullOptions {
  readonly credentials?: RegistryCredentials;
  readonly signal?: AbortSignal;
  /** Called on each state change of a layer and as its bytes arrive (cheap: the caller throttles). */
  readonly onProgress?: (progress: LayerProgress) => void;
}

export interface PullIntoLease extends PullOptions {
  /** Every blob the pull touches is added to this lease; the caller releases it once the image is recorded. */
  readonly lease: string;
}

const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** Resumes of one blob after its connection broke off mid-body, and the pause before each (times the count). */
const MAX_RESUMES = 4;
const RESUME_DELAY_MS = 250;

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Marked handled at once: a later layer may fail while the unpacker still awaits an earlier one.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class ImagePuller {
  private readonly blobFetches = new SingleFlight<string, void>();
  private pullsInFlight = 0;

  constructor(
    private readonly registry: RegistryClient,
    private readonly content: ContentStore,
    private readonly leases: LeaseManager,
    private readonly snapshotter: Pick<Snapshotter, 'hasLayer' | 'applyLayer'>,
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
    crashPoint('image.pull.after-manifest');

    const { onProgress: _layersOnly, ...configOpts } = opts;
    await this.fetchBlob(repo, manifest.config, lease, endpoint, configOpts);
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
    crashPoint('image.pull.after-config');
    await this.fetchAndUnpack(repo, manifest.layers, config.rootfs.diff_ids, lease, endpoint, opts);
    await this.keep(lease, fetched.bytes, fetched.digest);
    return {
      resolvedDigest,
      manifestDigest: fetched.digest,
      manifestMediaType: manifest.mediaType ?? fetched.mediaType,
      manifestSizeBytes: fetched.bytes.length,
      configDigest: manifest.config.digest,
    };
  }

  /**
   * Unpacks layers already in the content store (an image loaded from an archive), in order, each chain ID
   * once. Progress reports 'unpacking' and 'unpacked' per layer.
   */
  async unpack(layers: readonly Descriptor[], diffIds: readonly string[], opts: PullOptions = {}): Promise<void> {
    if (layers.length !== diffIds.length) {
      throw new BerthError('INVALID_ARGUMENT', `${layers.length} layers but ${diffIds.length} diff_ids in the config`);
    }
    this.pullsInFlight++; // layer GC waits for quiet, as during a pull
    try {
      const chain = chainIds(diffIds);
      for (const i of layers.keys()) await this.unpackOne(layers, diffIds, chain, i, opts);
    } finally {
      this.pullsInFlight--;
    }
  }

  /** Applies layer i (its blob is in the content store, its parent unpacked) unless its chain ID exists. */
  private async unpackOne(
    layers: readonly Descriptor[],
    diffIds: readonly string[],
    chain: readonly string[],
    i: number,
    opts: PullOptions,
  ): Promise<void> {
    const layer = layers[i]!;
    const report = (state: LayerState): void =>
      opts.onProgress?.({ digest: layer.digest, state, currentBytes: layer.size, totalBytes: layer.size });
    if (!this.snapshotter.hasLayer(chain[i]!)) {
      report('unpacking');
      await this.snapshotter.applyLayer(
        chain[i]!,
        i === 0 ? null : chain[i - 1]!,
        this.content.createReadStream(layer.digest),
        diffIds[i]!,
        opts.signal ? { signal: opts.signal } : {},
      );
    }
    report('unpacked');
  }

  private async keep(lease: string, bytes: Buffer, digest: string): Promise<void> {
    this.leases.addResource(lease, digest);
    await this.content.writeBlob(bytes, digest);
  }

  /**
   * Downloads layers with at most maxConcurrentDownloads in flight and unpacks each, in order, once it and
   * every layer below it are in the content store. A failure stops new downloads, waits for those under way
   * (their ingests stay resumable) and rethrows the first error.
   */
  private async fetchAndUnpack(
    repo: Repository,
    layers: readonly Descriptor[],
    diffIds: readonly string[],
    lease: string,
    endpoint: RegistryEndpoint,
    opts: PullOptions,
  ): Promise<void> {
    const chain = chainIds(diffIds);
    const report = (layer: Descriptor, state: LayerState, currentBytes = 0): void =>
      opts.onProgress?.({ digest: layer.digest, state, currentBytes, totalBytes: layer.size });
    for (const layer of layers) report(layer, 'waiting');
    const downloads = layers.map(() => deferred());
    let next = 0;
    let isFailed = false;
    const worker = async (): Promise<void> => {
      while (next < layers.length && !isFailed) {
        const i = next++;
        const layer = layers[i]!;
        try {
          // Fetched even when its chain is already unpacked: push and save need the blob itself.
          await this.fetchBlob(repo, layer, lease, endpoint, opts);
          downloads[i]!.resolve();
        } catch (err) {
          isFailed = true;
          downloads[i]!.reject(err);
        }
      }
    };
    const workers = Promise.all(Array.from({ length: Math.max(1, this.maxConcurrentDownloads) }, worker));
    try {
      for (const i of layers.keys()) {
        await downloads[i]!.promise;
        await this.unpackOne(layers, diffIds, chain, i, opts);
      }
    } catch (err) {
      isFailed = true;
      throw err;
    } finally {
      await workers;
    }
  }

  private async fetchBlob(
    repo: Repository,
    desc: Descriptor,
    lease: string,
    endpoint: RegistryEndpoint,
    opts: PullOptions,
  ): Promise<void> {
    this.leases.addResource(lease, desc.digest);
    const report = (state: LayerState, currentBytes: number): void =>
      opts.onProgress?.({ digest: desc.digest, state, currentBytes, totalBytes: desc.size });
    if (await this.content.has(desc.digest)) {
      report('exists', desc.size);
      return;
    }
    // A pull that joins a download under way sees only its end, not its bytes.
    const isJoining = this.blobFetches.isRunning(desc.digest);
    await this.blobFetches.run(desc.digest, async () => {
      for (let resumes = 0; ; resumes++) {
        if (await this.content.has(desc.digest)) return;
        let isStreaming = false;
        try {
          await this.writeBlob(repo, desc, endpoint, opts, report, () => {
            isStreaming = true;
          });
          return;
        } catch (err) {
          // Only a body that broke off is resumed; its ingest holds what arrived.
          if (!isStreaming || errorCode(err) !== 'UNAVAILABLE') throw err;
          if (resumes >= MAX_RESUMES) throw wrap(err, `gave up after ${resumes + 1} broken downloads`);
          await delay(RESUME_DELAY_MS * (resumes + 1), undefined, opts.signal ? { signal: opts.signal } : {}).catch(
            () => {
              throw new BerthError('CANCELLED', `pull of blob ${desc.digest} cancelled`);
            },
          );
        }
      }
    });
    report(isJoining ? 'exists' : 'downloaded', desc.size);
  }

  /** One download attempt into the content store, which decides whether to resume (Range) or start over. */
  private async writeBlob(
    repo: Repository,
    desc: Descriptor,
    endpoint: RegistryEndpoint,
    opts: PullOptions,
    report: (state: LayerState, currentBytes: number) => void,
    onStreaming: () => void,
  ): Promise<void> {
    await this.content.writeFrom(
      `pull-${desc.digest}`,
      { digest: desc.digest, sizeBytes: desc.size },
      async (offset) => {
        const blob = await this.registry.fetchBlob(repo, desc.digest, { ...opts, offset, preferred: endpoint });
        onStreaming();
        let currentBytes = blob.isPartial ? offset : 0;
        report('downloading', currentBytes);
        const counted = async function* (): AsyncGenerator<Uint8Array> {
          for await (const chunk of blob.body) {
            currentBytes += chunk.length;
            report('downloading', currentBytes);
            yield chunk;
          }
        };
        return { body: counted(), isPartial: blob.isPartial };
      },
      opts.signal ? { signal: opts.signal } : {},
    );
  }
}
