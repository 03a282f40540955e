/**
 * snapshots: unpacked image layers and container root filesystems (issue #3, landing in slices).
 * So far: the layer applier, which turns one OCI layer tar into a directory in overlayfs form
 * (whiteouts as 0/0 char devices, opaque dirs as trusted.overlay.opaque=y), refusing hostile layers.
 * Next: the overlayfs and native snapshotters keyed by chain ID, which call it into a temp dir and
 * make the result visible by rename.
 */
export { applyLayer } from './layer-apply.js';
export type { ApplyOptions } from './layer-apply.js';
export { layerPathParts, whiteoutOf, OPAQUE_MARKER, WHITEOUT_PREFIX } from './layer-path.js';
export type { WhiteoutKind } from './layer-path.js';
export { OverlaySnapshotter } from './overlay-snapshotter.js';
export type { OverlaySnapshotterOptions } from './overlay-snapshotter.js';
export { chainIds } from './chain-id.js';
