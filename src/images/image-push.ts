/**
 * Pushing one image from the content store to a registry reference (OCI distribution spec, "Push"):
 * the layers a few at a time, then the config, then the manifest under the target's tag (or its digest).
 * Blobs the target repository has are skipped (HEAD); blobs of a source repository on the same registry
 * are mounted rather than sent. For an image index, each platform manifest the content store holds is
 * pushed by digest first (a registry refuses an index whose manifests it lacks); a platform the store
 * lacks must already be in the target repository.
 *
 * Nothing here writes to the content store or the image records: a push only reads.
 */
import { BerthError } from '../base/errors.js';
import type { ContentStore } from '../content/index.js';
import { parseManifestDocument } from './manifest.js';
import type { Descriptor } from './manifest.js';
import { referenceString } from './reference.js';
import type { ImageReference } from './reference.js';
import type { RegistryClient, RegistryCredentials, Repository } from './registry/registry-client.js';

/**
 * Per blob, in order: 'exists' (the repository had it) or 'mounted' (copied from the source repository
 * inside the registry), each final; or 'uploading' (repeated as bytes go) and then 'done'.
 */
export type BlobPushState = 'exists' | 'mounted' | 'uploading' | 'done';

export interface PushProgress {
  readonly digest: string;
  /** Bytes of this blob sent so far by this push: 0 for 'exists' and 'mounted'. */
  readonly bytesSent: number;
  readonly totalBytes: number;
  readonly state: BlobPushState;
}

export interface PushRequest {
  /** Where to push: its tag names the manifest there; with a digest only, the image is pushed by digest. */
  readonly target: ImageReference;
  /** The manifest (or index) in the content store to push. */
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  /** Where the image came from (e.g. the repository it was pulled from): blobs are mounted from it when it is on the target's registry. */
  readonly sourceRepository?: Repository;
  readonly credentials?: RegistryCredentials;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: PushProgress) => void;
}

export interface PushedImage {
  /** The digest of the manifest (or index) pushed: sha256 of its bytes, as the registry stored it. */
  readonly digest: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** "127.0.0.1:5000/a/b:tag" or "…@sha256:…": what now names it in the registry. */
  readonly reference: string;
}

/** What a push reads from the content store. */
export type PushContent = Pick<ContentStore, 'has' | 'info' | 'readBytes' | 'createReadStream'>;

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export class ImagePusher {
  constructor(
    private readonly registry: RegistryClient,
    private readonly content: PushContent,
    private readonly maxConcurrentUploads: number,
  ) {}

  async push(req: PushRequest): Promise<PushedImage> {
    const { target } = req;
    const repo: Repository = { domain: target.domain, path: target.path };
    const reference = target.tag ?? target.digest;
    if (reference === undefined)
      throw new BerthError('INVALID_ARGUMENT', 'push target names neither a tag nor a digest');
    if (target.digest !== undefined && target.digest !== req.manifestDigest) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `push target ${referenceString(target)} names digest ${target.digest}, but the image is ${req.manifestDigest}`,
      );
    }
    const bytes = await this.pushTree(repo, req.manifestDigest, req.manifestMediaType, req);
    const digest = await this.registry.putManifest(repo, reference, { bytes, mediaType: req.manifestMediaType }, req);
    return {
      digest,
      mediaType: req.manifestMediaType,
      sizeBytes: bytes.length,
      reference: target.tag !== undefined ? `${target.repository}:${target.tag}` : `${target.repository}@${digest}`,
    };
  }

  /** Pushes everything a manifest or index points at (not the document itself) and returns its bytes. */
  private async pushTree(repo: Repository, digest: string, mediaType: string, req: PushRequest): Promise<Buffer> {
    const what = `image ${digest}`;
    const bytes = await this.content.readBytes(digest, MAX_MANIFEST_BYTES);
    const doc = parseManifestDocument(bytes, mediaType, what);
    if (doc.kind === 'manifest') {
      const { manifest } = doc;
      await this.pushBlobs(repo, manifest.layers, req);
      await this.pushBlobs(repo, [manifest.config], req);
      return bytes;
    }
    for (const child of doc.manifests) {
      if (await this.content.has(child.digest)) {
        const childBytes = await this.pushTree(repo, child.digest, child.mediaType, req);
        await this.registry.putManifest(repo, child.digest, { bytes: childBytes, mediaType: child.mediaType }, req);
      } else if (!(await this.registry.hasManifest(repo, child.digest, req))) {
        const platform = child.platform ? ` (${child.platform.os}/${child.platform.architecture})` : '';
        throw new BerthError(
          'FAILED_PRECONDITION',
          `image index ${digest} lists manifest ${child.digest}${platform}, which is neither in the content store ` +
            `(only this platform was pulled) nor in ${repo.domain}/${repo.path}: push the platform manifest instead`,
        );
      }
    }
    return bytes;
  }

  /** Blobs with at most maxConcurrentUploads in flight; after a failure no new blob starts. */
  private async pushBlobs(repo: Repository, descriptors: readonly Descriptor[], req: PushRequest): Promise<void> {
    const unique = [...new Map(descriptors.map((d) => [d.digest, d])).values()];
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < unique.length) {
        const desc = unique[next++]!;
        try {
          await this.pushBlob(repo, desc, req);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const workers = Array.from({ length: Math.max(1, Math.min(this.maxConcurrentUploads, unique.length)) }, worker);
    const results = await Promise.allSettled(workers);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
  }

  private async pushBlob(repo: Repository, desc: Descriptor, req: PushRequest): Promise<void> {
    const { digest, size } = desc;
    const info = await this.content.info(digest); // NOT_FOUND names the blob the image lacks locally
    if (info.sizeBytes !== size) {
      throw new BerthError('DATA_LOSS', `content ${digest} is ${info.sizeBytes} bytes, its descriptor says ${size}`);
    }
    const report = (state: BlobPushState, bytesSent: number): void =>
      req.onProgress?.({ digest, bytesSent, totalBytes: size, state });
    let isUploading = false;
    const outcome = await this.registry.pushBlob(
      repo,
      {
        digest,
        sizeBytes: size,
        open: () => {
          isUploading = true;
          report('uploading', 0);
          return this.content.createReadStream(digest);
        },
      },
      {
        ...(req.credentials !== undefined ? { credentials: req.credentials } : {}),
        ...(req.signal !== undefined ? { signal: req.signal } : {}),
        ...(req.sourceRepository !== undefined ? { mountFrom: req.sourceRepository } : {}),
        onBytesSent: (sent) => report('uploading', sent),
      },
    );
    if (outcome === 'exists' || outcome === 'mounted') report(outcome, 0);
    else report('done', isUploading ? size : 0);
  }
}
