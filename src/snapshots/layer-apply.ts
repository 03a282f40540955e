/**
 * Applies one OCI layer tar (gzip, zstd or plain) to an empty directory in overlayfs form: OCI whiteouts become
 * overlay whiteouts (char device 0/0) and opaque markers become trusted.overlay.opaque=y. Returns the
 * DiffID (sha256 of the uncompressed tar), which the caller checks against the image config.
 *
 * Safety against hostile layers: names are made relative and ".." is refused (layer-path.ts); no entry
 * is created through a symlink (every parent is lstat'ed and must be a real directory made by this layer);
 * hardlink targets obey the same rules; ownership, modes and times are set with lchown/lutimes or on
 * entries that cannot be symlinks. A failing layer throws; the caller removes the directory.
 * Device nodes and FIFOs need mknod, which Node lacks: /usr/bin/mknod runs through the injected Exec.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { setAttribute } from 'fs-xattr';
import tar from 'tar-stream';
import type { Header as Headers } from 'tar-stream';
import { BerthError, isBerthError, messageOf } from '../base/errors.js';
import { writeBatched } from '../base/batched-write.js';
import type { Exec } from '../base/exec.js';
import { describeArgv, stderrTail } from '../base/exec.js';
import { decompressLayer } from './layer-decompress.js';
import { layerPathParts, whiteoutOf } from './layer-path.js';

export interface ApplyOptions {
  readonly exec: Exec;
  readonly mknodPath?: string;
  /** Names the layer in errors ("sha256:…"). */
  readonly layer: string;
  readonly signal?: AbortSignal;
}

const MKNOD_TIMEOUT_MS = 10_000;

interface DirTimes {
  readonly path: string;
  readonly mtime: Date;
}

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
  const dirTimes: DirTimes[] = [];
  const applier = new EntryApplier(root, opts, dirTimes);

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
      await applier.apply(entry.header, entry as unknown as AsyncIterable<Buffer>);
    }
  } catch (err) {
    sink.destroy(err as Error);
    await feed;
    if (isBerthError(err)) throw err;
    throw new BerthError('INVALID_ARGUMENT', `layer ${opts.layer}: ${messageOf(err)}`, { cause: err });
  }
  await feed;
  // Directory mtimes last: creating their entries changed them.
  for (const d of dirTimes.reverse()) await utimes(d.path, d.mtime, d.mtime);
  return { diffId: `sha256:${hash.digest('hex')}` };
}

class EntryApplier {
  /** Directories this layer created or found as real directories: safe parents. */
  private readonly knownDirs = new Set<string>(['']);

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
    private readonly dirTimes: DirTimes[],
  ) {}

  async apply(header: Headers, body: AsyncIterable<Buffer>): Promise<void> {
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
      await setAttribute(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (whiteout?.kind === 'file') {
      await drain(body);
      const path = join(parent, whiteout.target);
      await rm(path, { recursive: true, force: true });
      await this.mknod(path, 'c', 0, 0, 0o000);
      return;
    }
    const path = join(parent, base);
    const rel = parentRel === '' ? base : `${parentRel}/${base}`;
    switch (header.type) {
      case 'directory': {
        await drain(body);
        const st = await lstat(path).catch(() => undefined);
        if (st !== undefined && !st.isDirectory()) await rm(path, { recursive: true, force: true });
        if (st === undefined || !st.isDirectory()) await mkdir(path);
        this.knownDirs.add(rel);
        await this.setMeta(path, header, true);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await rm(path, { recursive: true, force: true });
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
        await rm(path, { recursive: true, force: true });
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
        await rm(path, { recursive: true, force: true });
        await link(target, path);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(body);
        await rm(path, { recursive: true, force: true });
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

  /** The absolute path of a parent directory, creating missing ones; never through a symlink. */
  private async ensureParent(rel: string, create = true): Promise<string> {
    if (rel === '') return this.root;
    let current = '';
    for (const part of rel.split('/')) {
      current = current === '' ? part : `${current}/${part}`;
      if (this.knownDirs.has(current)) continue;
      const abs = join(this.root, current);
      const st = await lstat(abs).catch(() => undefined);
      if (st === undefined) {
        if (!create) throw new Error(`"${rel}" does not exist in this layer`);
        await mkdir(abs, { mode: 0o755 });
      } else if (!st.isDirectory()) {
        throw new Error(`"${rel}" goes through "${current}", which is not a directory (symlink or file)`);
      }
      this.knownDirs.add(current);
    }
    return join(this.root, rel);
  }

  /** chown, then chmod (chown clears setuid/setgid), xattrs, mtime. Never used on symlinks. */
  private async setMeta(path: string, header: Headers, isDir: boolean): Promise<void> {
    await chown(path, header.uid ?? 0, header.gid ?? 0);
    await chmod(path, (header.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777);
    const pax = (header.pax ?? {}) as Readonly<Record<string, unknown>>;
    for (const [key, value] of Object.entries(pax)) {
      if (!key.startsWith('SCHILY.xattr.') || typeof value !== 'string') continue;
      await setAttribute(path, key.slice('SCHILY.xattr.'.length), Buffer.from(value, 'binary'));
    }
    const mtime = header.mtime ?? new Date(0);
    if (isDir) this.dirTimes.push({ path, mtime });
    else await utimes(path, mtime, mtime);
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

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _chunk of body) {
    // skip
  }
}
