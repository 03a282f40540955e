/**
 * The Snapshotter interface: what image pulls, image GC, ImageFsInfo and containers need from the
 * snapshot store, implemented by the overlayfs snapshotter and by the native (copying) one for
 * filesystems without overlay.
 *
 * Vocabulary:
 * - a committed layer is one image layer applied on top of its parent, keyed by its chain ID (OCI image
 *   spec config.md "Layer ChainID"); it never changes after applyLayer returns, and many images share it;
 * - an active snapshot is a writable root filesystem for one container, keyed by a caller's string
 *   (any string of 1..256 characters, never used as a path), on top of a committed layer or of nothing.
 *
 * Lifecycle:
 *
 *   applyLayer(c1, null) -> applyLayer(c2, c1) -> prepare('ctr-a', c2) -> mountActive('ctr-a', dir)
 *        ... container runs, writes go to the active snapshot only ...
 *   caller unmounts dir -> removeActive('ctr-a') -> remove(c2) -> remove(c1)
 *
 * A committed layer cannot be removed while a child layer or an active snapshot builds on it, and an
 * active snapshot cannot be removed while something is mounted inside its directory. Both kinds persist
 * on disk: init() after a restart finds them again. Mounting and unmounting is done on the caller's
 * targets; the snapshotter never unmounts anything by itself.
 */
import type { DiskUsage } from '../base/disk-usage.js';

export type SnapshotterKind = 'overlayfs' | 'native';

export interface CommittedLayer {
  readonly chainId: string;
  readonly parent: string | null;
  readonly createdAtMs: number;
}

export interface ActiveSnapshot {
  readonly key: string;
  /** The chain ID of the committed layer under it, or null for an empty root. */
  readonly parent: string | null;
  readonly createdAtMs: number;
}

export interface Snapshotter {
  readonly kind: SnapshotterKind;
  /** The directory holding the whole store (ImageFsInfo's mountpoint). */
  readonly root: string;

  /** Creates the layout and loads committed layers and active snapshots; removes leftovers of a crash. */
  init(): Promise<void>;

  hasLayer(chainId: string): boolean;
  /**
   * Applies a layer tar (gzip or plain) once per chain ID; concurrent calls for one chain ID share the
   * work. FAILED_PRECONDITION when the parent is not committed; INVALID_ARGUMENT when the tar's DiffID
   * differs from expectedDiffId or the tar is hostile.
   */
  applyLayer(
    chainId: string,
    parentChainId: string | null,
    source: AsyncIterable<Uint8Array>,
    expectedDiffId: string,
    options?: { readonly signal?: AbortSignal },
  ): Promise<void>;
  list(): CommittedLayer[];
  /** Removes a committed layer; absent is fine. FAILED_PRECONDITION while a child layer or active snapshot uses it. */
  remove(chainId: string): Promise<void>;
  /** Mounts the stack ending at chainId read-only at target. */
  mountView(chainId: string, target: string): Promise<void>;
  /** Unmounts a target mounted by mountView or mountActive. */
  unmount(target: string): Promise<void>;

  /** ALREADY_EXISTS for a key in use, NOT_FOUND for an unknown parent, INVALID_ARGUMENT for a bad key. */
  prepare(
    key: string,
    parentChainId: string | null,
    options?: { readonly signal?: AbortSignal },
  ): Promise<ActiveSnapshot>;
  /** Mounts the active snapshot writable at target. NOT_FOUND for an unknown key. */
  mountActive(key: string, target: string): Promise<void>;
  /** Removes an active snapshot; absent is fine. FAILED_PRECONDITION while anything is mounted inside it. */
  removeActive(key: string): Promise<void>;
  listActive(): ActiveSnapshot[];

  /** Space and inodes of the whole store, each inode counted once (hardlinks too). */
  usage(): Promise<DiskUsage>;
  /** Space and inodes of one active snapshot's writable part. NOT_FOUND for an unknown key. */
  usageOf(key: string): Promise<DiskUsage>;
  /** Space and inodes of one committed layer's own files (`berth snapshots usage`). NOT_FOUND when absent. */
  layerUsage(chainId: string): Promise<DiskUsage>;
}
