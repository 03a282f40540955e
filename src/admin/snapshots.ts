/**
 * Admin ListSnapshots / RemoveSnapshot (`berth snapshots ls|usage|rm`). Snapshots are shared by every
 * namespace: committed layers are keyed by chain ID and list the images whose chain holds them; active
 * snapshots are keyed by the id of the container whose root filesystem they are.
 *
 * Removal is refused (FAILED_PRECONDITION) for a layer of an image, a layer under another layer or an active
 * snapshot, and a container's own active snapshot (remove the container). What is left to remove by hand is
 * what a crash or an interrupted operation left behind; image GC removes unused layers by itself.
 */
import type {
  ListSnapshotsRequest,
  ListSnapshotsResponse,
  RemoveSnapshotRequest,
  RemoveSnapshotResponse,
  SnapshotInfo,
} from '../api/gen/admin.js';
import { BerthError } from '../base/errors.js';
import type { AdminEvents, AdminSnapshots } from './deps.js';

/** Usage walks in flight at once: `snapshots usage` on a big store must not flood the thread pool. */
const USAGE_CONCURRENCY = 4;
const NS_PER_MS = 1_000_000n;

type Row = { readonly info: SnapshotInfo; readonly measure: () => Promise<{ bytes: number; inodes: number }> };

function rowsOf(snapshots: AdminSnapshots): Row[] {
  const { store } = snapshots;
  const images = snapshots.layerImages();
  const committed: Row[] = store.list().map((l) => ({
    info: {
      key: l.chainId,
      parent: l.parent ?? '',
      kind: 'committed',
      createdAt: BigInt(Math.trunc(l.createdAtMs)) * NS_PER_MS,
      sizeBytes: 0n,
      inodes: 0n,
      images: [...(images.get(l.chainId) ?? [])],
      container: '',
    },
    measure: () => store.layerUsage(l.chainId),
  }));
  const active: Row[] = store.listActive().map((a) => ({
    info: {
      key: a.key,
      parent: a.parent ?? '',
      kind: 'active',
      createdAt: BigInt(Math.trunc(a.createdAtMs)) * NS_PER_MS,
      sizeBytes: 0n,
      inodes: 0n,
      images: [],
      container: snapshots.containerOf(a.key) ?? '',
    },
    measure: () => store.usageOf(a.key),
  }));
  return [...committed, ...active].sort((a, b) => Number(a.info.createdAt - b.info.createdAt));
}

function checkSnapshotter(snapshots: AdminSnapshots, name: string): void {
  if (name !== '' && name !== snapshots.store.kind) {
    throw new BerthError('NOT_FOUND', `snapshotter "${name}" not found: this daemon uses "${snapshots.store.kind}"`);
  }
}

/** Runs fn over items with at most `limit` in flight, keeping their order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function listSnapshots(snapshots: AdminSnapshots) {
  return async (request: ListSnapshotsRequest): Promise<ListSnapshotsResponse> => {
    checkSnapshotter(snapshots, request.snapshotter);
    let rows = rowsOf(snapshots);
    if (request.key !== '') {
      rows = rows.filter((r) => r.info.key === request.key);
      if (rows.length === 0) throw new BerthError('NOT_FOUND', `snapshot "${request.key}" not found`);
    }
    if (!request.usage) return { snapshots: rows.map((r) => r.info) };
    const measured = await mapLimited(rows, USAGE_CONCURRENCY, async (r) => {
      // A snapshot removed while the walk runs is left out rather than failing the whole list.
      const usage = await r.measure().catch(() => undefined);
      return usage === undefined
        ? undefined
        : { ...r.info, sizeBytes: BigInt(usage.bytes), inodes: BigInt(usage.inodes) };
    });
    return { snapshots: measured.filter((s): s is SnapshotInfo => s !== undefined) };
  };
}

export function removeSnapshot(snapshots: AdminSnapshots, events: AdminEvents, nowNs: () => bigint) {
  return async (request: RemoveSnapshotRequest): Promise<RemoveSnapshotResponse> => {
    checkSnapshotter(snapshots, request.snapshotter);
    const { key } = request;
    if (key === '') throw new BerthError('INVALID_ARGUMENT', 'a snapshot key is required');
    let kind: 'active' | 'committed';
    if (snapshots.store.listActive().some((a) => a.key === key)) {
      kind = 'active';
      await snapshots.removeActive(key);
    } else if (snapshots.store.list().some((l) => l.chainId === key)) {
      kind = 'committed';
      await snapshots.removeLayer(key);
    } else {
      throw new BerthError('NOT_FOUND', `snapshot "${key}" not found`);
    }
    events.publish({ type: 'snapshot', action: 'removed', namespace: '', atNs: nowNs(), fields: { key, kind } });
    return {};
  };
}
