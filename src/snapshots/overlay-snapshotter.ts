/**
 * The overlayfs snapshotter: one directory per committed layer, keyed by chain ID, each applied once and
 * shared by every image that has it.
 *
 *   <root>/layers/<n>/fs          the layer's files in overlay form (whiteouts, opaque xattrs)
 *   <root>/layers/<n>/meta.json   { chainId, parent, createdAtMs }
 *   <root>/tmp/<random>/          a layer being applied; renamed to layers/<n> when complete
 *
 * Layer directories have short numeric names and mounts run with cwd=<root>/layers and relative
 * lowerdirs, because overlay mount options must fit in one page (DESIGN.md fact 8). A crash leaves at
 * most a tmp/ directory, removed by init(); a layers/<n> directory is always complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BerthError } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import { describeArgv, stderrTail } from '../base/exec.js';
import { SingleFlight } from '../base/single-flight.js';
import { applyLayer } from './layer-apply.js';

const MetaSchema = z.object({ chainId: z.string(), parent: z.string().nullable(), createdAtMs: z.number() });
type LayerMeta = z.infer<typeof MetaSchema>;

const MOUNT_TIMEOUT_MS = 30_000;

export interface OverlaySnapshotterOptions {
  readonly root: string;
  readonly exec: Exec;
  readonly mountPath?: string;
  readonly umountPath?: string;
}

export class OverlaySnapshotter {
  private readonly byChain = new Map<string, { readonly id: number; readonly meta: LayerMeta }>();
  private readonly applying = new SingleFlight<string, void>();
  private nextId = 1;

  constructor(private readonly opts: OverlaySnapshotterOptions) {}

  private get layersDir(): string {
    return join(this.opts.root, 'layers');
  }

  async init(): Promise<void> {
    await rm(join(this.opts.root, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.opts.root, 'tmp'), { recursive: true, mode: 0o700 });
    await mkdir(this.layersDir, { recursive: true, mode: 0o711 });
    for (const name of await readdir(this.layersDir)) {
      const id = Number(name);
      if (!Number.isInteger(id) || id <= 0) continue;
      const parsed = MetaSchema.safeParse(
        JSON.parse(await readFile(join(this.layersDir, name, 'meta.json'), 'utf8').catch(() => 'null')),
      );
      if (!parsed.success) {
        await rm(join(this.layersDir, name), { recursive: true, force: true });
        continue;
      }
      this.byChain.set(parsed.data.chainId, { id, meta: parsed.data });
      this.nextId = Math.max(this.nextId, id + 1);
    }
  }

  hasLayer(chainId: string): boolean {
    return this.byChain.has(chainId);
  }

  /** Applies a layer once per chain ID; concurrent calls for one chain ID share the work. */
  async applyLayer(
    chainId: string,
    parentChainId: string | null,
    source: AsyncIterable<Uint8Array>,
    expectedDiffId: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    if (this.byChain.has(chainId)) return;
    if (parentChainId !== null && !this.byChain.has(parentChainId)) {
      throw new BerthError('FAILED_PRECONDITION', `layer ${chainId}: parent ${parentChainId} is not unpacked`);
    }
    await this.applying.run(chainId, async () => {
      if (this.byChain.has(chainId)) return;
      const tmp = join(this.opts.root, 'tmp', randomBytes(8).toString('hex'));
      await mkdir(join(tmp, 'fs'), { recursive: true, mode: 0o755 });
      try {
        const { diffId } = await applyLayer(source, join(tmp, 'fs'), {
          exec: this.opts.exec,
          layer: chainId,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (diffId !== expectedDiffId) {
          throw new BerthError(
            'INVALID_ARGUMENT',
            `layer ${chainId}: content has DiffID ${diffId}, the image config says ${expectedDiffId}`,
          );
        }
        const meta: LayerMeta = { chainId, parent: parentChainId, createdAtMs: Date.now() };
        await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
        const id = this.nextId++;
        await rename(tmp, join(this.layersDir, String(id)));
        this.byChain.set(chainId, { id, meta });
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    });
  }

  /** Relative lowerdir paths, top layer first, for the stack ending at chainId. */
  lowerDirs(chainId: string): string[] {
    const dirs: string[] = [];
    for (let c: string | null = chainId; c !== null;) {
      const layer = this.byChain.get(c);
      if (layer === undefined) throw new BerthError('NOT_FOUND', `layer ${c} is not unpacked`);
      dirs.push(`${layer.id}/fs`);
      c = layer.meta.parent;
    }
    return dirs;
  }

  /** Mounts the stack ending at chainId read-only at target (overlay needs two lowers; one layer is a bind). */
  async mountView(chainId: string, target: string): Promise<void> {
    const lowers = this.lowerDirs(chainId);
    const args =
      lowers.length === 1
        ? ['--bind', '-o', 'ro', lowers[0]!, target]
        : ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target];
    await this.run(this.opts.mountPath ?? '/usr/bin/mount', args);
  }

  async unmount(target: string): Promise<void> {
    await this.run(this.opts.umountPath ?? '/usr/bin/umount', [target]);
  }

  /** Removes a layer no other layer builds on. */
  async remove(chainId: string): Promise<void> {
    const layer = this.byChain.get(chainId);
    if (layer === undefined) return;
    const child = [...this.byChain.values()].find((l) => l.meta.parent === chainId);
    if (child !== undefined) {
      throw new BerthError('FAILED_PRECONDITION', `layer ${chainId} has a child layer ${child.meta.chainId}`);
    }
    this.byChain.delete(chainId);
    await rm(join(this.layersDir, String(layer.id)), { recursive: true, force: true });
  }

  list(): { readonly chainId: string; readonly parent: string | null }[] {
    return [...this.byChain.values()].map((l) => ({ chainId: l.meta.chainId, parent: l.meta.parent }));
  }

  private async run(file: string, args: string[]): Promise<void> {
    const res = await this.opts.exec({ file, args, timeoutMs: MOUNT_TIMEOUT_MS, cwd: this.layersDir });
    if (res.exitCode !== 0) {
      throw new BerthError('INTERNAL', `${describeArgv(file, args)} failed: ${stderrTail(res.stderr)}`);
    }
  }
}
