/**
 * The native snapshotter, for root filesystems without overlayfs (or where it is unwanted): every
 * committed layer is a full tree, a copy of its parent's tree with the layer applied on top and its
 * whiteouts turned into real deletions (layer-apply.ts 'native' mode); an active snapshot is one more
 * copy of its parent. Mounts are bind mounts of those trees. It costs a copy per layer and per container
 * (cheap where `cp --reflink` can share extents: btrfs, xfs), and needs nothing but a POSIX filesystem.
 *
 * Copies are `cp -a --reflink=auto` through Exec: -a keeps hardlinks, xattrs, devices, FIFOs,
 * ownership, modes and times (GNU coreutils "cp invocation"), which Node's fs.cp does not all do.
 * Layout and lifecycle: base-snapshotter.ts.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { applyLayer } from './layer-apply.js';
import { BaseSnapshotter } from './base-snapshotter.js';
import type { LayerRecord } from './base-snapshotter.js';
import type { SnapshotterKind } from './snapshotter.js';

const DEFAULT_COPY_TIMEOUT_MS = 30 * 60_000;

export class NativeSnapshotter extends BaseSnapshotter {
  readonly kind: SnapshotterKind = 'native';

  protected override async fillLayer(
    dir: string,
    parent: LayerRecord | null,
    source: AsyncIterable<Uint8Array>,
    chainId: string,
    signal: AbortSignal | undefined,
  ): Promise<{ diffId: string }> {
    await this.copyOf(parent, join(dir, 'fs'), signal);
    return applyLayer(source, join(dir, 'fs'), {
      exec: this.opts.exec,
      mode: 'native',
      layer: chainId,
      ...(signal ? { signal } : {}),
    });
  }

  protected override async fillActive(
    dir: string,
    parent: LayerRecord | null,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    await this.copyOf(parent, join(dir, 'fs'), signal);
  }

  override async mountView(chainId: string, target: string): Promise<void> {
    const layer = this.layerRecord(chainId);
    await this.run(this.mountPath, ['--bind', '-o', 'ro', join(layer.dir, 'fs'), target], this.opts.root);
  }

  override async mountActive(key: string, target: string): Promise<void> {
    const snap = this.activeRecord(key);
    await this.run(this.mountPath, ['--bind', join(snap.dir, 'fs'), target], this.opts.root);
  }

  private get mountPath(): string {
    return this.opts.mountPath ?? '/usr/bin/mount';
  }

  /** target (absent) becomes a copy of the parent's tree, or an empty root directory without a parent. */
  private async copyOf(parent: LayerRecord | null, target: string, signal: AbortSignal | undefined): Promise<void> {
    if (parent === null) {
      await mkdir(target, { mode: 0o755 });
      return;
    }
    await this.run(
      this.opts.cpPath ?? '/usr/bin/cp',
      ['-a', '--reflink=auto', '--', join(parent.dir, 'fs'), target],
      this.opts.root,
      this.opts.copyTimeoutMs ?? DEFAULT_COPY_TIMEOUT_MS,
      signal,
    );
  }
}
