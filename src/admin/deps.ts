/** What the admin handlers need, as narrow interfaces. */
import type { Readable } from 'node:stream';
import type { ProbeResult } from '../base/condition.js';
import type { BerthEvent, EventSink, Unsubscribe } from '../events/index.js';
import type { ContentUse, ImageService } from '../images/index.js';
import type { Snapshotter } from '../snapshots/index.js';

export interface NamespaceInfo {
  readonly name: string;
  readonly createdAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Namespaces {
  list(): NamespaceInfo[];
  create(name: string, labels: Readonly<Record<string, string>>): NamespaceInfo;
  remove(name: string): void;
}

export type AdminImages = Pick<ImageService, 'pull' | 'tag' | 'prune' | 'push' | 'save' | 'load'>;

/** The content store as `berth content` sees it: blobs with what keeps them, removal by the image domain. */
export interface AdminContent {
  list(): Promise<ContentUse[]>;
  /** NOT_FOUND when absent; the stream fails with NOT_FOUND when the blob goes before it is opened. */
  info(digest: string): Promise<{ readonly sizeBytes: number }>;
  read(digest: string, start: number): Readable;
  /** FAILED_PRECONDITION while an image needs it or a lease holds it. */
  delete(digest: string): Promise<void>;
}

/** Snapshots as `berth snapshots` sees them: the snapshotter's catalog, and who uses each entry. */
export interface AdminSnapshots {
  readonly store: Pick<Snapshotter, 'kind' | 'list' | 'listActive' | 'usageOf' | 'layerUsage'>;
  /** Chain ID -> images (namespace/name) whose chain holds it. */
  layerImages(): ReadonlyMap<string, readonly string[]>;
  /** FAILED_PRECONDITION for a layer of an image, or under another layer or an active snapshot. */
  removeLayer(chainId: string): Promise<void>;
  /** The container (namespace/name) whose root filesystem the active snapshot is. */
  containerOf(key: string): string | undefined;
  /** FAILED_PRECONDITION for a container's own snapshot. */
  removeActive(key: string): Promise<void>;
}

/** The event bus, for Subscribe (read) and for what only admin does (namespaces, content, snapshots). */
export interface AdminEvents extends EventSink {
  subscribe(listener: (event: BerthEvent) => void): Unsubscribe;
}

/** One part of the daemon and whether it is ready (`berth plugins`). */
export interface PluginStatus extends ProbeResult {
  readonly type: string;
  readonly id: string;
  readonly requires: readonly string[];
}

export interface Plugins {
  list(): Promise<readonly PluginStatus[]>;
}

export interface AdminDeps {
  readonly namespaces: Namespaces;
  readonly images: AdminImages;
  readonly content: AdminContent;
  readonly snapshots: AdminSnapshots;
  readonly events: AdminEvents;
  readonly plugins: Plugins;
  readonly nowNs: () => bigint;
}
