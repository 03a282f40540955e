/**
 * The overlayfs snapshotter: one directory per committed layer holding only that layer's files in overlay
 * form (layer-apply.ts 'overlay' mode), shared by every image that has the chain ID; an active snapshot is
 * an empty upperdir + workdir that overlayfs stacks on the committed layers at mount time.
 *
 * Layout and lifecycle: base-snapshotter.ts. Mounts run with cwd=<root>/layers and relative paths
 * ("3/fs:2/fs:1/fs", "../active/7/fs"), because overlay mount options must fit in one page
 * (DESIGN.md fact 8): a hundred layers take ~800 bytes.
 */
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { applyLayer } from './layer-apply.js';
import { copyDirMeta } from './overlay-lookup.js';
import { BaseSnapshotter } from './base-snapshotter.js';
import type { LayerRecord, SnapshotterOptions } from './base-snapshotter.js';
import type { SnapshotterKind } from './snapshotter.js';

export type OverlaySnapshotterOptions = SnapshotterOptions;

export class OverlaySnapshotter extends BaseSnapshotter {
  readonly kind: SnapshotterKind = 'overlayfs';

  protected override async fillLayer(
    dir: string,
    parent: LayerRecord | null,
    source: AsyncIterable<Uint8Array>,
    chainId: string,
    signal: AbortSignal | undefined,
  ): Promise<{ diffId: string }> {
    await mkdir(join(dir, 'fs'), { mode: 0o755 });
    return applyLayer(source, join(dir, 'fs'), {
      exec: this.opts.exec,
      mode: 'overlay',
      lowerRoots: parent === null ? [] : this.lowerDirs(parent.meta.chainId).map((d) => join(this.layersDir, d)),
      layer: chainId,
      ...(signal ? { signal } : {}),
    });
  }

  /** The upperdir's root hides the image's root: it starts as a copy of its metadata. */
  protected override async fillActive(dir: string, parent: LayerRecord | null): Promise<void> {
    await mkdir(join(dir, 'fs'), { mode: 0o755 });
    await mkdir(join(dir, 'work'), { mode: 0o700 });
    if (parent === null) return;
    const mtime = await copyDirMeta(join(parent.dir, 'fs'), join(dir, 'fs'));
    await utimes(join(dir, 'fs'), mtime, mtime);
  }

  /** Relative lowerdir paths (from <root>/layers), top layer first, for the stack ending at chainId. */
  lowerDirs(chainId: string): string[] {
    const dirs: string[] = [];
    for (let c: string | null = chainId; c !== null;) {
      const layer = this.layerRecord(c);
      dirs.push(`${layer.id}/fs`);
      c = layer.meta.parent;
    }
    return dirs;
  }

  /** Read-only: overlay needs two lowers without an upperdir, so a one-layer stack is a read-only bind. */
  override async mountView(chainId: string, target: string): Promise<void> {
    const lowers = this.lowerDirs(chainId);
    const args =
      lowers.length === 1
        ? ['--bind', '-o', 'ro', lowers[0]!, target]
        : ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target];
    await this.run(this.opts.mountPath ?? '/usr/bin/mount', args, this.layersDir);
  }

  /** Writable: overlay of the committed stack under the snapshot's upperdir; with no parent, a bind of it. */
  override async mountActive(key: string, target: string): Promise<void> {
    const snap = this.activeRecord(key);
    const upper = `../active/${snap.id}`;
    const args =
      snap.meta.parent === null
        ? ['--bind', `${upper}/fs`, target]
        : [
            '-t',
            'overlay',
            'overlay',
            '-o',
            `lowerdir=${this.lowerDirs(snap.meta.parent).join(':')},upperdir=${upper}/fs,workdir=${upper}/work`,
            target,
          ];
    await this.run(this.opts.mountPath ?? '/usr/bin/mount', args, this.layersDir);
  }
}
