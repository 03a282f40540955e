/**
 * Admin image RPCs beyond CRI: PullImage and PushImage with streamed per-blob progress, TagImage, PruneImages,
 * ExportImages (save) and ImportImages (load).
 * Progress: every state change of a blob is sent at once; byte counts are coalesced to one message per
 * PROGRESS_INTERVAL_MS, so a fast pull of many small chunks does not flood the client (ProgressRelay).
 */
import { Writable } from 'node:stream';
import type {
  DataChunk,
  ExportImagesRequest,
  ImportImagesRequest,
  ImportImagesResponse,
  PushImageProgress,
  PushImageRequest,
  PruneImagesRequest,
  PruneImagesResponse,
  PullImageProgress,
  PullImageRequest,
  TagImageRequest,
  TagImageResponse,
  TransferProgress,
} from '../api/gen/admin.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from '../cri/index.js';
import { credentialsFromAuth } from '../images/index.js';
import type { AdminImages, Namespaces } from './deps.js';

const PROGRESS_INTERVAL_MS = 200;

/** NOT_FOUND unless the namespace exists: images are never created in a namespace by accident. */
export function requireNamespace(namespaces: Namespaces, name: string): string {
  if (name === '') throw new BerthError('INVALID_ARGUMENT', 'namespace is required');
  if (!namespaces.list().some((ns) => ns.name === name)) {
    throw new BerthError('NOT_FOUND', `namespace "${name}" not found (create it with "berth namespaces create")`);
  }
  return name;
}

function requireImage(image: string, what: string): string {
  if (image.trim() === '') throw new BerthError('INVALID_ARGUMENT', `${what} needs an image reference`);
  return image;
}

/**
 * The latest state of each blob of a transfer, sent to the client as it changes: state changes at once, byte
 * counts at most every PROGRESS_INTERVAL_MS. A client that stops reading never stops the transfer: progress
 * is best effort.
 */
class ProgressRelay {
  private readonly items = new Map<string, TransferProgress>();
  private isDirty = false;
  private sending = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sendItems: (items: TransferProgress[]) => Promise<void>) {
    this.timer = setInterval(() => this.flush(), PROGRESS_INTERVAL_MS);
  }

  update(digest: string, state: string, currentBytes: number, totalBytes: number): void {
    const isNewState = this.items.get(digest)?.state !== state;
    this.items.set(digest, { digest, state, currentBytes: BigInt(currentBytes), totalBytes: BigInt(totalBytes) });
    this.isDirty = true;
    if (isNewState) this.flush();
  }

  all(): TransferProgress[] {
    return [...this.items.values()];
  }

  /** Stops the timer and waits for messages already queued. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sending;
  }

  private flush(): void {
    if (!this.isDirty) return;
    this.isDirty = false;
    const items = this.all();
    this.sending = this.sending.then(() => this.sendItems(items)).catch(() => undefined);
  }
}

export function pullImage(images: AdminImages, namespaces: Namespaces) {
  return async (
    request: PullImageRequest,
    ctx: CallContext,
    send: (message: PullImageProgress) => Promise<void>,
  ): Promise<void> => {
    const namespace = requireNamespace(namespaces, request.namespace);
    const image = requireImage(request.image, 'PullImage');
    const relay = new ProgressRelay((layers) => send({ layers, imageId: '', repoTags: [], repoDigests: [] }));
    const credentials = credentialsFromAuth(request.auth);
    let view;
    try {
      view = await images.pull(namespace, image, {
        ...(credentials ? { credentials } : {}),
        signal: ctx.signal,
        onProgress: (p) => relay.update(p.digest, p.state, p.currentBytes, p.totalBytes),
      });
    } finally {
      await relay.close();
    }
    await send({
      layers: relay.all(),
      imageId: view.id,
      repoTags: [...view.repoTags],
      repoDigests: [...view.repoDigests],
    });
  };
}

export function tagImage(images: AdminImages, namespaces: Namespaces) {
  return async (request: TagImageRequest): Promise<TagImageResponse> => {
    const namespace = requireNamespace(namespaces, request.namespace);
    const view = images.tag(
      namespace,
      requireImage(request.source, 'TagImage source'),
      requireImage(request.target, 'TagImage target'),
    );
    return { imageId: view.id };
  };
}

export function pruneImages(images: AdminImages, namespaces: Namespaces) {
  return async (request: PruneImagesRequest): Promise<PruneImagesResponse> => {
    const namespace = requireNamespace(namespaces, request.namespace);
    const result = await images.prune(namespace, { images: request.images });
    return {
      removedImages: [...result.removedImages],
      freedBytes: BigInt(result.freedBytes),
      removedBlobs: result.removed.length,
      removedSnapshots: result.removedLayers,
    };
  };
}

export function pushImage(images: AdminImages, namespaces: Namespaces) {
  return async (
    request: PushImageRequest,
    ctx: CallContext,
    send: (message: PushImageProgress) => Promise<void>,
  ): Promise<void> => {
    const namespace = requireNamespace(namespaces, request.namespace);
    const image = requireImage(request.image, 'PushImage');
    const relay = new ProgressRelay((blobs) => send({ blobs, digest: '', target: '' }));
    const credentials = credentialsFromAuth(request.auth);
    let pushed;
    try {
      pushed = await images.push(namespace, image, request.target, {
        ...(credentials ? { credentials } : {}),
        signal: ctx.signal,
        onProgress: (p) => relay.update(p.digest, p.state, p.bytesSent, p.totalBytes),
      });
    } finally {
      await relay.close();
    }
    await send({ blobs: relay.all(), digest: pushed.digest, target: pushed.reference });
  };
}

/** Archive bytes leave in messages of about this size: big enough to be cheap, far below gRPC's 4 MiB cap. */
const CHUNK_BYTES = 256 * 1024;

export function exportImages(images: AdminImages, namespaces: Namespaces) {
  return async (
    request: ExportImagesRequest,
    ctx: CallContext,
    send: (message: DataChunk) => Promise<void>,
  ): Promise<void> => {
    const namespace = requireNamespace(namespaces, request.namespace);
    const format = request.format === '' ? 'docker' : request.format;
    if (format !== 'docker' && format !== 'oci') {
      throw new BerthError('INVALID_ARGUMENT', `archive format "${request.format}" must be docker or oci`);
    }
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await send({ data });
    };
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes < CHUNK_BYTES) {
          callback();
          return;
        }
        flush().then(() => callback(), callback);
      },
      final(callback) {
        flush().then(() => callback(), callback);
      },
    });
    await images.save(namespace, request.images, format, out, { signal: ctx.signal });
  };
}

export function importImages(images: AdminImages, namespaces: Namespaces) {
  return async (requests: AsyncIterable<ImportImagesRequest>, ctx: CallContext): Promise<ImportImagesResponse> => {
    const it = requests[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) throw new BerthError('INVALID_ARGUMENT', 'ImportImages got no archive');
    const head: ImportImagesRequest = first.value;
    const namespace = requireNamespace(namespaces, head.namespace);
    async function* bytes(): AsyncGenerator<Uint8Array> {
      yield head.data;
      for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value.data;
    }
    const loaded = await images.load(namespace, bytes(), { signal: ctx.signal });
    return { images: loaded.map((l) => ({ imageId: l.id, names: [...l.names] })) };
  };
}
