/**
 * Admin ListContent / ReadContent / DeleteContent (`berth content ls|get|rm`). The content store is shared by
 * every namespace, so the request's namespace is not used: each blob lists the image names, of any namespace,
 * that need it. Removal is refused while an image needs the blob or a pull or load in progress leases it
 * (ImageService.deleteContent); there is no --force: removing an image is how its blobs go.
 */
import type {
  ContentInfo,
  DataChunk,
  DeleteContentRequest,
  DeleteContentResponse,
  ListContentRequest,
  ListContentResponse,
  ReadContentRequest,
} from '../api/gen/admin.js';
import { BerthError } from '../base/errors.js';
import type { CallContext } from '../cri/index.js';
import type { ContentUse } from '../images/index.js';
import type { AdminContent, AdminEvents } from './deps.js';

/** Blob bytes leave in messages of at most this size: far below gRPC's 4 MiB default receive limit. */
export const CONTENT_CHUNK_BYTES = 256 * 1024;
const NS_PER_MS = 1_000_000n;

export function toContentInfo(blob: ContentUse): ContentInfo {
  return {
    digest: blob.digest,
    size: BigInt(blob.sizeBytes),
    createdAt: BigInt(Math.trunc(blob.createdAtMs)) * NS_PER_MS,
    labels: {},
    references: blob.references.map((r) => ({ namespace: r.namespace, image: r.image, role: r.role })),
    leased: blob.isLeased,
  };
}

function requireDigest(digest: string): string {
  if (digest === '') throw new BerthError('INVALID_ARGUMENT', 'a content digest (sha256:...) is required');
  return digest;
}

export function listContent(content: AdminContent) {
  return async (_request: ListContentRequest): Promise<ListContentResponse> => ({
    content: (await content.list()).map(toContentInfo),
  });
}

export function readContent(content: AdminContent) {
  return async (
    request: ReadContentRequest,
    ctx: CallContext,
    send: (message: DataChunk) => Promise<void>,
  ): Promise<void> => {
    const digest = requireDigest(request.digest);
    const { sizeBytes } = await content.info(digest); // NOT_FOUND before any byte is sent
    const offset = Number(request.offset);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > sizeBytes) {
      throw new BerthError(
        'OUT_OF_RANGE',
        `offset ${request.offset} is outside content ${digest} (${sizeBytes} bytes)`,
      );
    }
    const stream = content.read(digest, offset);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length; at += CONTENT_CHUNK_BYTES) {
          if (ctx.signal.aborted) return;
          await send({ data: chunk.subarray(at, at + CONTENT_CHUNK_BYTES) });
        }
      }
    } finally {
      stream.destroy();
    }
  };
}

export function deleteContent(content: AdminContent, events: AdminEvents, nowNs: () => bigint) {
  return async (request: DeleteContentRequest): Promise<DeleteContentResponse> => {
    const digest = requireDigest(request.digest);
    await content.delete(digest);
    events.publish({ type: 'content', action: 'removed', namespace: '', atNs: nowNs(), fields: { digest } });
    return {};
  };
}
