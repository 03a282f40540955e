/**
 * snapshots: unpacked image layers and container root filesystems (issue #3). Two snapshotters behind one
 * interface, chosen by `[plugins.cri.containerd] snapshotter`: overlayfs (each layer applied once in overlay
 * form, container rootfs = overlay mount) and native (full copies, for filesystems without overlay). Both keep
 * committed layers keyed by chain ID and writable active snapshots keyed by any string; layout and crash rules
 * in base-snapshotter.ts. The layer applier refuses hostile layers; its rootfs equals umoci's (tested).
 */
export { applyLayer } from './layer-apply.js';
export type { ApplyMode, ApplyOptions } from './layer-apply.js';
export { layerPathParts, whiteoutOf, OPAQUE_MARKER, WHITEOUT_PREFIX } from './layer-path.js';
export type { WhiteoutKind } from './layer-path.js';
export { OverlaySnapshotter } from './overlay-snapshotter.js';
export type { OverlaySnapshotterOptions } from './overlay-snapshotter.js';
export { NativeSnapshotter } from './native-snapshotter.js';
export { createSnapshotter } from './create-snapshotter.js';
export type { Snapshotter, SnapshotterKind, CommittedLayer, ActiveSnapshot } from './snapshotter.js';
export type { SnapshotterOptions } from './base-snapshotter.js';
export { chainIds } from './chain-id.js';
export { listsOverlay, probeSnapshotter } from './overlay-support.js';
