/**
 * content: the content-addressed blob store (manifests, configs, layers), resumable ingests, leases that
 * protect in-flight content, and the GC primitive. Images decide what is referenced; this domain only keeps
 * bytes honest.
 *
 * On-disk layout (<content root> is <berth root>/content):
 *
 *   blobs/sha256/<hex>            0400  a verified blob, named by the sha256 of its bytes
 *   ingest/                       0700  unfinished writes
 *   ingest/<sha256(ref)>/data     0600  bytes received so far for ref; resumed with an HTTP Range request
 *   ingest/<sha256(ref)>/ref            the ref itself (the dir name is its hash, so any string is a safe ref)
 *   ingest/<sha256(ref)>/expected       {"digest","sizeBytes"} the data is for; a resume with another digest
 *                                       or a torn/missing file starts over, so bytes of two blobs never mix
 *   ingest/.tmp-<random>          0400  writeBlob staging file (bytes already in memory, never resumed)
 *
 * Invariants:
 * - A path under blobs/ only ever holds bytes whose size and sha256 were checked: they reach it by rename(2)
 *   after fsync of the file, and the directory is fsynced after. A crash leaves an ingest, never a torn blob.
 * - Digests are exactly "sha256:<64 lowercase hex>" (they become paths); anything else is INVALID_ARGUMENT.
 * - One writer per ref at a time (in-process lock: one berthd owns a root); a second gets ABORTED.
 * - GC removes only blobs; a blob is kept while referenced or leased (checked at unlink time). Ingests are
 *   removed only by commit/abort (writeFrom aborts on a full disk) or by cleanupIngests for ones idle longer
 *   than its max age and not open.
 * - Startup (init) keeps ingests for resume, except those whose blob is already committed (a crash between
 *   commit's rename and the ingest's removal), and deletes .tmp- staging files.
 */
export { ContentStore } from './content-store.js';
export type { BlobSource, GcResult, IngestInfo, LeaseCheck, WriteStreamOptions } from './content-store.js';
export type { BlobInfo, ContentWriter, ExpectedBlob } from './ingest-writer.js';
export { isDigest, parseDigest, sha256Digest } from './digest.js';
export { LeaseManager } from './leases.js';
