/**
 * Picks the snapshotter named by the config key `plugins.cri.containerd.snapshotter` (containerd's name
 * and values). The daemon calls it once and then init(); everything else sees only the interface.
 */
import { NativeSnapshotter } from './native-snapshotter.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import type { SnapshotterOptions } from './base-snapshotter.js';
import type { Snapshotter, SnapshotterKind } from './snapshotter.js';

export function createSnapshotter(kind: SnapshotterKind, opts: SnapshotterOptions): Snapshotter {
  switch (kind) {
    case 'overlayfs':
      return new OverlaySnapshotter(opts);
    case 'native':
      return new NativeSnapshotter(opts);
    default:
      return assertNever(kind);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown snapshotter ${String(value)}`);
}
