/**
 * Applies one OCI layer tar (gzip, zstd or plain) to a directory, in one of two forms:
 * - 'overlay' (default): into an empty directory; OCI whiteouts become overlay whiteouts (char device
 *   0/0) and opaque markers become trusted.overlay.opaque=y, for overlayfs to merge at mount time.
 * - 'native': onto a full copy of the lower layers' tree; whiteouts become real deletions: ".wh.NAME"
 *   deletes NAME, ".wh..wh..opq" deletes everything the lower layers had under its directory but keeps
 *   what this same layer wrote there (in any entry order: OCI image spec layer.md, "Opaque Whiteout").
 * Returns the DiffID (sha256 of the uncompressed tar), which the caller checks against the image config.
 *
 * Safety against hostile layers, in both forms: names are made relative and ".." is refused
 * (layer-path.ts); no entry is created through a symlink (every parent is lstat'ed and must be a real
 * directory; a directory this layer removed or replaced is forgotten, so it is checked again); hardlink
 * targets obey the same rules; ownership, modes and times are set with lchown/lutimes or on entries that
 * cannot be symlinks. A failing layer throws; the caller removes the directory.
 * Native form only: a non-directory from a LOWER layer on the path of a new entry is replaced by a
 * directory, which is what overlayfs shows for the same layers (an upper directory hides a lower
 * non-directory), so both snapshotters give one tree; one made by this layer is refused as above.
 * Device nodes and FIFOs need mknod, which Node lacks: /usr/bin/mknod runs through the injected Exec.
 */
import { createHash } from 'node:crypto';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { listAttributes, removeAttribute, setAttribute } from 'fs-xattr';
import tar from 'tar-stream';
import type { Header as Headers } from 'tar-stream';
import { BerthError, isBerthError, isResourceExhausted, messageOf } from '../base/errors.js';
import { writeBatched } from '../base/batched-write.js';
import type { Exec } from '../base/exec.js';
import { describeArgv, stderrTail } from '../base/exec.js';
import { decompressLayer } from './layer-decompress.js';
import { PaxXattrTap } from './pax-xattrs.js';
import { layerPathParts, whiteoutOf } from './layer-path.js';
import { copyDirMeta, visibleLowerDir } from './overlay-lookup.js';

/**
 * A failure while applying: a full disk is the node's (RESOURCE_EXHAUSTED: blaming the image would send the
 * operator looking in the wrong place); anything else is taken as the layer's (a malformed or hostile tar makes
 * system calls fail too: ENOTDIR, EEXIST, ELOOP), INVALID_ARGUMENT.
 */
function classify(err: unknown, layer: string): BerthError {
  if (isBerthError(err)) return err;
  if (isResourceExhausted(err)) {
    return new BerthError('RESOURCE_EXHAUSTED', `unpack layer ${layer}: ${messageOf(err)}`, { cause: err });
  }
  return new BerthError('INVALID_ARGUMENT', `layer ${layer}: ${messageOf(err)}`, { cause: err });
}

/** 'overlay': a layer directory for overlayfs; 'native': the layer applied onto a copy of its parent. */
export type ApplyMode = 'overlay' | 'native';

export interface ApplyOptions {
  readonly exec: Exec;
  /** Default 'overlay'. */
  readonly mode?: ApplyMode;
  /**
   * Overlay form: the roots of the layers below, top first. Directories this layer creates without an
   * entry of their own (and its root) start with the metadata overlayfs shows for them in the lower
   * layers, or the merged view would change their mode, owner, xattrs and mtime.
   */
  readonly lowerRoots?: readonly string[];
  readonly mknodPath?: string;
  /** Names the layer in errors ("sha256:…"). */
  readonly layer: string;
  readonly signal?: AbortSignal;
}

const MKNOD_TIMEOUT_MS = 10_000;

/** Directory path -> the mtime it must end with (set after all entries: writing into a directory moves it). */
type DirTimes = Map<string, Date>;

export async function applyLayer(
  source: AsyncIterable<Uint8Array>,
  root: string,
  opts: ApplyOptions,
): Promise<{ diffId: string }> {
  const hash = createHash('sha256');
  const extract = tar.extract();
  // streamx's Writable, typed loosely by @types/tar-stream: the calls used here.
  const sink = extract as unknown as {
    write(chunk: Buffer): boolean;
    end(): void;
    on(event: 'drain' | 'close', fn: () => void): void;
    once(event: 'drain' | 'close', fn: () => void): void;
    off(event: 'drain' | 'close', fn: () => void): void;
    destroy(err: Error): void;
  };
  const dirTimes: DirTimes = new Map();
  const paxTap = new PaxXattrTap();
  const applier = new EntryApplier(root, opts, dirTimes);
  await applier.start();

  let isStopped = false;
  sink.once('close', () => {
    isStopped = true;
  });
  const feed = (async () => {
    try {
      for await (const chunk of decompressLayer(source, opts.layer)) {
        if (opts.signal?.aborted) throw new BerthError('CANCELLED', `apply of layer ${opts.layer} cancelled`);
        if (isStopped) return; // the extractor failed: stop reading the source
        hash.update(chunk);
        paxTap.push(chunk); // ahead of tar-stream, which parses the same bytes after this write
        if (!sink.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              sink.off('drain', done);
              sink.off('close', done);
              resolve();
            };
            sink.on('drain', done);
            sink.on('close', done);
          });
        }
      }
      sink.end();
    } catch (err) {
      sink.destroy(err as Error);
    }
  })();

  try {
    for await (const entry of extract) {
      await applier.apply(entry.header, entry as unknown as AsyncIterable<Buffer>, paxTap.next());
    }
  } catch (err) {
    sink.destroy(err as Error);
    await feed;
    throw classify(err, opts.layer);
  }
  await feed;
  // Directory mtimes last: creating their entries changed them. Setting one does not move its parent's.
  for (const [path, mtime] of dirTimes) await utimes(path, mtime, mtime);
  return { diffId: `sha256:${hash.digest('hex')}` };
}

class EntryApplier {
  /** Directories this layer created or found as real directories: safe parents until removed. */
  private readonly knownDirs = new Set<string>(['']);
  /** Native form: every path this layer wrote or went through (what an opaque marker keeps). */
  private readonly layerPaths = new Set<string>();
  private readonly isNative: boolean;
  /** The current entry's raw xattrs (set by apply, read by setMeta). */
  private xattrs: ReadonlyMap<string, Buffer> = new Map();

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
    private readonly dirTimes: DirTimes,
  ) {
    this.isNative = opts.mode === 'native';
  }

  /**
   * The root's final metadata unless a "./" entry says otherwise: overlay form takes the lower stack's
   * root; native form keeps the copied root; a first layer's root gets mtime 0 (as umoci gives it), so
   * the same layers always give the same tree.
   */
  async start(): Promise<void> {
    const lowerRoot = this.isNative ? undefined : this.opts.lowerRoots?.[0];
    if (lowerRoot !== undefined) {
      await this.copyLowerMeta(lowerRoot, this.root);
    } else if (this.isNative && (await readdir(this.root)).length > 0) {
      this.dirTimes.set(this.root, (await lstat(this.root)).mtime);
    } else {
      this.dirTimes.set(this.root, new Date(0));
    }
  }

  /** xattrs: this entry's raw SCHILY.xattr values (PaxXattrTap), byte for byte. */
  async apply(
    header: Headers,
    body: AsyncIterable<Buffer>,
    xattrs: ReadonlyMap<string, Buffer> = new Map(),
  ): Promise<void> {
    this.xattrs = xattrs;
    const parts = layerPathParts(header.name, this.opts.layer);
    if (parts.length === 0) {
      // The layer root itself ("./"): only its metadata matters.
      await drain(body);
      if (header.type === 'directory') await this.setMeta(this.root, header, true);
      return;
    }
    const base = parts[parts.length - 1]!;
    const parentRel = parts.slice(0, -1).join('/');
    const parent = await this.ensureParent(parentRel);
    const whiteout = whiteoutOf(base, this.opts.layer);
    if (whiteout?.kind === 'opaque') {
      await drain(body);
      if (this.isNative) await this.removeLowerEntries(parentRel);
      else await setAttribute(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (whiteout?.kind === 'file') {
      await drain(body);
      const path = join(parent, whiteout.target);
      await this.remove(relOf(parentRel, whiteout.target), path);
      if (!this.isNative) await this.mknod(path, 'c', 0, 0, 0o000);
      return;
    }
    const path = join(parent, base);
    const rel = relOf(parentRel, base);
    this.layerPaths.add(rel);
    switch (header.type) {
      case 'directory': {
        await drain(body);
        const st = await lstat(path).catch(() => undefined);
        if (st !== undefined && !st.isDirectory()) await this.remove(rel, path);
        if (st === undefined || !st.isDirectory()) await mkdir(path);
        // A lower layer's directory keeps its entries but takes this layer's metadata, xattrs included
        // (as the upper directory's would show through overlayfs).
        else if (this.isNative) await clearXattrs(path);
        this.knownDirs.add(rel);
        await this.setMeta(path, header, true);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await this.remove(rel, path);
        const fh = await open(
          path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        try {
          await writeBatched(fh, body);
        } finally {
          await fh.close();
        }
        await this.setMeta(path, header, false);
        return;
      }
      case 'symlink': {
        await drain(body);
        await this.remove(rel, path);
        await symlink(header.linkname ?? '', path);
        await lchown(path, header.uid ?? 0, header.gid ?? 0);
        const mtime = header.mtime ?? new Date(0);
        await lutimes(path, mtime, mtime);
        return;
      }
      case 'link': {
        await drain(body);
        const targetParts = layerPathParts(header.linkname ?? '', this.opts.layer);
        if (targetParts.length === 0) throw new Error(`hardlink "${header.name}" has no target`);
        const targetParent = await this.ensureParent(targetParts.slice(0, -1).join('/'), false);
        const target = join(targetParent, targetParts[targetParts.length - 1]!);
        const st = await lstat(target).catch(() => undefined);
        if (st === undefined || st.isDirectory()) {
          throw new Error(
            `hardlink "${header.name}" points at "${header.linkname ?? ''}", which this layer does not hold`,
          );
        }
        if (target === path) return; // a link to itself: nothing to do, and removing first would lose it
        await this.remove(rel, path);
        await link(target, path);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(body);
        await this.remove(rel, path);
        const kind = header.type === 'fifo' ? 'p' : header.type === 'block-device' ? 'b' : 'c';
        await this.mknod(path, kind, header.devmajor ?? 0, header.devminor ?? 0, (header.mode ?? 0o644) & 0o7777);
        await this.setMeta(path, header, false);
        return;
      }
      default:
        // pax/gnu extension headers are folded in by tar-stream; anything else has no place in a layer.
        await drain(body);
        throw new Error(`entry "${header.name}" has unsupported type ${String(header.type)}`);
    }
  }

  /**
   * The absolute path of a parent directory, creating missing ones; never through a symlink. With
   * create=false (hardlink targets) nothing is created or replaced and nothing counts as written.
   */
  private async ensureParent(rel: string, create = true): Promise<string> {
    if (rel === '') return this.root;
    let current = '';
    for (const part of rel.split('/')) {
      current = relOf(current, part);
      const isWrittenHere = this.layerPaths.has(current);
      if (create) this.layerPaths.add(current);
      if (this.knownDirs.has(current)) continue;
      const abs = join(this.root, current);
      const st = await lstat(abs).catch(() => undefined);
      if (st === undefined) {
        if (!create) throw new Error(`"${rel}" does not exist in this layer`);
        await mkdir(abs, { mode: 0o755 });
        const lower = this.isNative ? undefined : await visibleLowerDir(this.opts.lowerRoots ?? [], current);
        if (lower !== undefined) await this.copyLowerMeta(lower, abs);
      } else if (st.isDirectory()) {
        // Native form: a lower layer's directory keeps its mtime unless this layer has an entry for it.
        if (!this.dirTimes.has(abs)) this.dirTimes.set(abs, st.mtime);
      } else if (!st.isDirectory()) {
        // Overlay form: everything in the directory is this layer's. Native form: only layerPaths are.
        const isFromLowerLayer = this.isNative && create && !isWrittenHere;
        if (!isFromLowerLayer) {
          throw new Error(`"${rel}" goes through "${current}", which is not a directory (symlink or file)`);
        }
        await this.remove(current, abs);
        await mkdir(abs, { mode: 0o755 });
      }
      this.knownDirs.add(current);
    }
    return join(this.root, rel);
  }

  /**
   * Removes whatever is at path (never following a symlink: rm unlinks it) and forgets it and everything
   * under it as a safe parent: a later entry may put a symlink there.
   */
  private async remove(rel: string, path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    for (const dir of this.knownDirs) {
      if (dir === rel || dir.startsWith(`${rel}/`)) this.knownDirs.delete(dir);
    }
  }

  /**
   * Native form, opaque marker in dirRel: removes every entry under it that this layer did not write,
   * recursing into this layer's directories (overlayfs hides all lower content below an opaque dir).
   */
  private async removeLowerEntries(dirRel: string): Promise<void> {
    const abs = dirRel === '' ? this.root : join(this.root, dirRel);
    for (const name of await readdir(abs)) {
      const rel = relOf(dirRel, name);
      const path = join(abs, name);
      if (!this.layerPaths.has(rel)) {
        await this.remove(rel, path);
      } else if ((await lstat(path)).isDirectory()) {
        await this.removeLowerEntries(rel);
      }
    }
  }

  /** chown, then chmod (chown clears setuid/setgid), xattrs, mtime. Never used on symlinks. */
  private async setMeta(path: string, header: Headers, isDir: boolean): Promise<void> {
    await chown(path, header.uid ?? 0, header.gid ?? 0);
    await chmod(path, (header.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777);
    // The raw values from PaxXattrTap: tar-stream's own header.pax lost any that were not valid UTF-8.
    for (const [name, value] of this.xattrs) await setAttribute(path, name, value);
    const mtime = header.mtime ?? new Date(0);
    if (isDir) this.dirTimes.set(path, mtime);
    else await utimes(path, mtime, mtime);
  }

  /** Gives a directory this layer made (never a symlink) the metadata of the lower one it hides. */
  private async copyLowerMeta(lower: string, dir: string): Promise<void> {
    this.dirTimes.set(dir, await copyDirMeta(lower, dir));
  }

  private async mknod(path: string, kind: 'c' | 'b' | 'p', major: number, minor: number, mode: number): Promise<void> {
    const file = this.opts.mknodPath ?? '/usr/bin/mknod';
    const args = [
      '-m',
      mode.toString(8).padStart(4, '0'),
      path,
      kind,
      ...(kind === 'p' ? [] : [String(major), String(minor)]),
    ];
    const res = await this.opts.exec({ file, args, timeoutMs: MKNOD_TIMEOUT_MS });
    if (res.exitCode !== 0) {
      throw new BerthError('INTERNAL', `${describeArgv(file, args)} failed: ${stderrTail(res.stderr)}`);
    }
  }
}

async function clearXattrs(path: string): Promise<void> {
  for (const name of await listAttributes(path)) await removeAttribute(path, name);
}

function relOf(parentRel: string, name: string): string {
  return parentRel === '' ? name : `${parentRel}/${name}`;
}

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _chunk of body) {
    // skip
  }
}
