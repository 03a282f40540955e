/**
 * What both snapshotters share: the on-disk catalog of committed layers and active snapshots, how each
 * is created (in tmp/, then made visible by one rename) and removed (renamed into tmp/, then deleted),
 * the rules that keep a used layer alive, and usage. The subclasses say how a layer or an active
 * snapshot is filled and mounted.
 *
 *   <root>/layers/<n>/fs          a committed layer's files (form depends on the snapshotter)
 *   <root>/layers/<n>/meta.json   { chainId, parent, createdAtMs }
 *   <root>/active/<n>/fs          an active snapshot's writable files (overlay: upperdir)
 *   <root>/active/<n>/meta.json   { key, parent, createdAtMs }
 *   <root>/tmp/<random>/          being created or being deleted; emptied by init()
 *
 * Directory names are small numbers, never derived from chain IDs or keys: keys are arbitrary strings and
 * overlay mount options must stay short (DESIGN.md fact 8). A crash leaves at most tmp/ entries; a
 * layers/<n> or active/<n> directory with a meta.json is always complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { crashPoint, isCrashPointArmed } from '../base/crash-point.js';
import { BerthError } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import { describeArgv, stderrTail } from '../base/exec.js';
import { SingleFlight } from '../base/single-flight.js';
import { diskUsage } from '../base/disk-usage.js';
import type { DiskUsage } from '../base/disk-usage.js';
import { mountPointsUnder, readMountPoints } from './mount-info.js';
import type { ActiveSnapshot, CommittedLayer, Snapshotter, SnapshotterKind } from './snapshotter.js';

export interface SnapshotterOptions {
  /** The store's directory; give each kind its own (e.g. <root>/snapshots/overlayfs). */
  readonly root: string;
  readonly exec: Exec;
  readonly mountPath?: string;
  readonly umountPath?: string;
  /** Native snapshotter: GNU cp, for `cp -a --reflink=auto`. */
  readonly cpPath?: string;
  /** Native snapshotter: how long one tree copy may take. Default 30 minutes. */
  readonly copyTimeoutMs?: number;
  /** Tests point this at a file of their own. Default /proc/self/mountinfo. */
  readonly mountinfoPath?: string;
}

const LayerMetaSchema = z.object({ chainId: z.string(), parent: z.string().nullable(), createdAtMs: z.number() });
const ActiveMetaSchema = z.object({ key: z.string(), parent: z.string().nullable(), createdAtMs: z.number() });

export interface LayerRecord {
  /** Absolute path of layers/<n>. */
  readonly dir: string;
  readonly id: number;
  readonly meta: z.infer<typeof LayerMetaSchema>;
}

export interface ActiveRecord {
  /** Absolute path of active/<n>. */
  readonly dir: string;
  readonly id: number;
  readonly meta: ActiveSnapshot;
}

const MOUNT_TIMEOUT_MS = 30_000;
export const MAX_KEY_LENGTH = 256;

export abstract class BaseSnapshotter implements Snapshotter {
  abstract readonly kind: SnapshotterKind;
  protected readonly layers = new Map<string, LayerRecord>();
  protected readonly active = new Map<string, ActiveRecord>();
  /** Layers being applied and keys being prepared, with their parents: they hold their parent too. */
  private readonly pendingLayers = new Map<string, string | null>();
  private readonly pendingActive = new Map<string, string | null>();
  private readonly applying = new SingleFlight<string, void>();
  private nextLayerId = 1;
  private nextActiveId = 1;

  constructor(protected readonly opts: SnapshotterOptions) {}

  get root(): string {
    return this.opts.root;
  }

  protected get layersDir(): string {
    return join(this.opts.root, 'layers');
  }

  protected get activeDir(): string {
    return join(this.opts.root, 'active');
  }

  private get tmpDir(): string {
    return join(this.opts.root, 'tmp');
  }

  /** Fills dir (a fresh directory under tmp/) with the layer: at least dir/fs. Returns the tar's DiffID. */
  protected abstract fillLayer(
    dir: string,
    parent: LayerRecord | null,
    source: AsyncIterable<Uint8Array>,
    chainId: string,
    signal: AbortSignal | undefined,
  ): Promise<{ diffId: string }>;

  /** Fills dir (a fresh directory under tmp/) with an active snapshot: at least dir/fs. */
  protected abstract fillActive(
    dir: string,
    parent: LayerRecord | null,
    signal: AbortSignal | undefined,
  ): Promise<void>;

  abstract mountView(chainId: string, target: string): Promise<void>;
  abstract mountActive(key: string, target: string): Promise<void>;

  async init(): Promise<void> {
    await mkdir(this.opts.root, { recursive: true, mode: 0o711 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const mounts = await readMountPoints(this.opts.mountinfoPath);
    const tmpReal = await realpath(this.tmpDir);
    for (const name of await readdir(this.tmpDir)) {
      // Never delete through a mount; such a leftover stays for an operator to look at.
      if (mountPointsUnder(mounts, join(tmpReal, name)).length > 0) continue;
      await rm(join(this.tmpDir, name), { recursive: true, force: true });
    }
    await mkdir(this.layersDir, { recursive: true, mode: 0o711 });
    await mkdir(this.activeDir, { recursive: true, mode: 0o711 });
    for (const { id, dir, data } of await this.loadRecords(this.layersDir, LayerMetaSchema)) {
      this.layers.set(data.chainId, { dir, id, meta: data });
      this.nextLayerId = Math.max(this.nextLayerId, id + 1);
    }
    for (const { id, dir, data } of await this.loadRecords(this.activeDir, ActiveMetaSchema)) {
      this.active.set(data.key, { dir, id, meta: data });
      this.nextActiveId = Math.max(this.nextActiveId, id + 1);
    }
  }

  /** Numeric directories with a valid meta.json; one without is an unfinished rename target, moved away. */
  private async loadRecords<T>(
    parentDir: string,
    schema: z.ZodType<T>,
  ): Promise<{ readonly id: number; readonly dir: string; readonly data: T }[]> {
    const out: { readonly id: number; readonly dir: string; readonly data: T }[] = [];
    for (const name of await readdir(parentDir)) {
      const id = Number(name);
      if (!Number.isInteger(id) || id <= 0 || String(id) !== name) continue;
      const dir = join(parentDir, name);
      const raw = await readFile(join(dir, 'meta.json'), 'utf8').catch(() => 'null');
      const parsed = schema.safeParse(parseJson(raw));
      if (parsed.success) out.push({ id, dir, data: parsed.data });
      else await this.discard(dir, `${dir} (no valid meta.json)`).catch(() => undefined);
    }
    return out;
  }

  hasLayer(chainId: string): boolean {
    return this.layers.has(chainId);
  }

  list(): CommittedLayer[] {
    return [...this.layers.values()].map((l) => ({
      chainId: l.meta.chainId,
      parent: l.meta.parent,
      createdAtMs: l.meta.createdAtMs,
    }));
  }

  listActive(): ActiveSnapshot[] {
    return [...this.active.values()].map((a) => a.meta);
  }

  async applyLayer(
    chainId: string,
    parentChainId: string | null,
    source: AsyncIterable<Uint8Array>,
    expectedDiffId: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    if (this.layers.has(chainId)) return;
    await this.applying.run(chainId, async () => {
      if (this.layers.has(chainId)) return;
      const parent = parentChainId === null ? null : this.layers.get(parentChainId);
      if (parent === undefined) {
        throw new BerthError('FAILED_PRECONDITION', `layer ${chainId}: parent ${parentChainId} is not unpacked`);
      }
      this.pendingLayers.set(chainId, parentChainId);
      const tmp = await this.newTmpDir();
      try {
        const bytes = isCrashPointArmed('snapshots.layer.mid-fill') ? crashingMidway(source) : source;
        const { diffId } = await this.fillLayer(tmp, parent, bytes, chainId, options.signal);
        if (diffId !== expectedDiffId) {
          throw new BerthError(
            'INVALID_ARGUMENT',
            `layer ${chainId}: content has DiffID ${diffId}, the image config says ${expectedDiffId}`,
          );
        }
        crashPoint('snapshots.layer.after-fill');
        const meta = { chainId, parent: parentChainId, createdAtMs: Date.now() };
        await writeJsonSynced(join(tmp, 'meta.json'), meta);
        crashPoint('snapshots.layer.before-rename');
        const id = this.nextLayerId++;
        const dir = join(this.layersDir, String(id));
        await rename(tmp, dir);
        this.layers.set(chainId, { dir, id, meta });
        crashPoint('snapshots.layer.after-rename');
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      } finally {
        this.pendingLayers.delete(chainId);
      }
    });
  }

  async remove(chainId: string): Promise<void> {
    const layer = this.layers.get(chainId);
    if (layer === undefined) return;
    const child =
      [...this.layers.values()].find((l) => l.meta.parent === chainId)?.meta.chainId ??
      [...this.pendingLayers].find(([, p]) => p === chainId)?.[0];
    if (child !== undefined) {
      throw new BerthError('FAILED_PRECONDITION', `layer ${chainId} has a child layer ${child}`);
    }
    const user =
      [...this.active.values()].find((a) => a.meta.parent === chainId)?.meta.key ??
      [...this.pendingActive].find(([, p]) => p === chainId)?.[0];
    if (user !== undefined) {
      throw new BerthError('FAILED_PRECONDITION', `layer ${chainId} is used by active snapshot "${user}"`);
    }
    await this.discard(layer.dir, `layer ${chainId}`);
    this.layers.delete(chainId);
  }

  async prepare(
    key: string,
    parentChainId: string | null,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<ActiveSnapshot> {
    checkKey(key);
    if (this.active.has(key) || this.pendingActive.has(key)) {
      throw new BerthError('ALREADY_EXISTS', `active snapshot "${key}" already exists`);
    }
    const parent = parentChainId === null ? null : this.layers.get(parentChainId);
    if (parent === undefined) {
      throw new BerthError('NOT_FOUND', `active snapshot "${key}": parent layer ${parentChainId} is not unpacked`);
    }
    this.pendingActive.set(key, parentChainId);
    const tmp = await this.newTmpDir();
    try {
      await this.fillActive(tmp, parent, options.signal);
      const meta: ActiveSnapshot = { key, parent: parentChainId, createdAtMs: Date.now() };
      await writeJsonSynced(join(tmp, 'meta.json'), meta);
      crashPoint('snapshots.active.before-rename');
      const id = this.nextActiveId++;
      const dir = join(this.activeDir, String(id));
      await rename(tmp, dir);
      this.active.set(key, { dir, id, meta });
      return meta;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    } finally {
      this.pendingActive.delete(key);
    }
  }

  async removeActive(key: string): Promise<void> {
    const snap = this.active.get(key);
    if (snap === undefined) return;
    await this.discard(snap.dir, `active snapshot "${key}"`);
    this.active.delete(key);
  }

  async unmount(target: string): Promise<void> {
    await this.run(this.opts.umountPath ?? '/usr/bin/umount', [target], this.opts.root);
  }

  async usage(): Promise<DiskUsage> {
    return diskUsage(this.opts.root);
  }

  async usageOf(key: string): Promise<DiskUsage> {
    return diskUsage(join(this.activeRecord(key).dir, 'fs'));
  }

  async layerUsage(chainId: string): Promise<DiskUsage> {
    return diskUsage(join(this.layerRecord(chainId).dir, 'fs'));
  }

  protected layerRecord(chainId: string): LayerRecord {
    const layer = this.layers.get(chainId);
    if (layer === undefined) throw new BerthError('NOT_FOUND', `layer ${chainId} is not unpacked`);
    return layer;
  }

  protected activeRecord(key: string): ActiveRecord {
    const snap = this.active.get(key);
    if (snap === undefined) throw new BerthError('NOT_FOUND', `active snapshot "${key}" not found`);
    return snap;
  }

  protected async run(
    file: string,
    args: readonly string[],
    cwd: string,
    timeoutMs = MOUNT_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.opts.exec({ file, args, timeoutMs, cwd, ...(signal ? { signal } : {}) });
    if (res.exitCode !== 0) {
      throw new BerthError('INTERNAL', `${describeArgv(file, args)} failed: ${stderrTail(res.stderr)}`);
    }
  }

  private async newTmpDir(): Promise<string> {
    const tmp = join(this.tmpDir, randomBytes(8).toString('hex'));
    await mkdir(tmp, { mode: 0o700 });
    return tmp;
  }

  /**
   * Deletes a record's directory: refused while anything is mounted inside it (a recursive delete would
   * walk into the mount), then renamed into tmp/ so a crash mid-delete leaves no half-deleted record.
   */
  private async discard(dir: string, what: string): Promise<void> {
    const real = await realpath(dir).catch(() => undefined);
    if (real === undefined) return;
    const mounted = mountPointsUnder(await readMountPoints(this.opts.mountinfoPath), real);
    if (mounted.length > 0) {
      throw new BerthError('FAILED_PRECONDITION', `${what}: ${mounted[0]!} is still mounted inside ${dir}`);
    }
    const trash = join(this.tmpDir, randomBytes(8).toString('hex'));
    await rename(dir, trash);
    crashPoint('snapshots.discard.after-rename');
    await rm(trash, { recursive: true, force: true });
  }
}

/**
 * The layer's bytes, dying at crash point snapshots.layer.mid-fill when the second chunk is asked for (or the
 * end of a one-chunk layer): the tmp dir then holds part of the layer. Only wrapped when the point is armed.
 */
async function* crashingMidway(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let isFirst = true;
  for await (const chunk of source) {
    if (!isFirst) crashPoint('snapshots.layer.mid-fill');
    isFirst = false;
    yield chunk;
  }
  crashPoint('snapshots.layer.mid-fill');
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `active snapshot key must be 1 to ${MAX_KEY_LENGTH} characters, got ${String(key).length}`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** meta.json is what makes a record exist after the rename: it must be on disk before. */
async function writeJsonSynced(path: string, value: unknown): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(value));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
