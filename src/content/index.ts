/**
 * content: the content-addressed blob store (manifests, configs, layers), resumable ingests, leases
 * that protect in-flight content, and GC. Layout and invariants: see content-store.ts.
 */
export { ContentStore } from './content-store.js';
export type { BlobInfo, ContentWriter, ExpectedBlob } from './content-store.js';
export { isDigest, parseDigest, sha256Digest } from './digest.js';
export { LeaseManager } from './leases.js';
