/**
 * Disk usage of a directory tree (a snapshot store, a container's writable layer), counted as `du -x` does:
 * allocated blocks (st_blocks * 512) and inodes, each inode once however many hardlinks reach it, never
 * following symlinks and never entering another filesystem (a mount inside the tree is someone else's usage,
 * and could be huge). Names are handled as bytes, so files with non-UTF-8 names are counted too.
 *
 * In base/ because two layer-2 domains walk trees: snapshots (ImageFsInfo, usageOf) and stats (the cache).
 */
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { BerthError } from './errors.js';

export interface DiskUsage {
  readonly bytes: number;
  readonly inodes: number;
}

export interface DiskUsageOptions {
  readonly signal?: AbortSignal;
}

/** lstat calls in flight per directory: enough to hide latency, few enough not to flood the libuv pool. */
const STAT_BATCH = 64;
const SLASH = Buffer.from('/');

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function lstatOrGone(path: Buffer): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    if (isGone(err)) return undefined; // removed while we walked
    throw err;
  }
}

/** Bytes and inodes used under `dir` (itself included). NOT_FOUND when `dir` does not exist. */
export async function diskUsage(dir: string, opts: DiskUsageOptions = {}): Promise<DiskUsage> {
  const rootPath = Buffer.from(dir);
  const root = await lstatOrGone(rootPath);
  if (root === undefined) throw new BerthError('NOT_FOUND', `disk usage: directory "${dir}" not found`);
  // Only inodes with several links can be met twice: remembering just those keeps memory small.
  const linked = new Set<bigint>();
  let blocks = root.blocks;
  let inodes = 1;
  const pending: Buffer[] = root.isDirectory() ? [rootPath] : [];
  try {
    for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
      opts.signal?.throwIfAborted();
      const names = await readdir(path, { encoding: 'buffer' }).catch((err: unknown) => {
        if (isGone(err)) return [];
        throw err;
      });
      for (let i = 0; i < names.length; i += STAT_BATCH) {
        const paths = names.slice(i, i + STAT_BATCH).map((name) => Buffer.concat([path, SLASH, name]));
        const stats = await Promise.all(paths.map(lstatOrGone));
        stats.forEach((st, j) => {
          if (st === undefined || st.dev !== root.dev) return;
          if (st.isDirectory()) {
            pending.push(paths[j] as Buffer);
          } else if (st.nlink > 1n) {
            if (linked.has(st.ino)) return;
            linked.add(st.ino);
          }
          inodes += 1;
          blocks += st.blocks;
        });
      }
    }
  } catch (err) {
    if (opts.signal?.aborted === true) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new BerthError('INTERNAL', `disk usage of "${dir}": ${code}`, { cause: err });
  }
  return { bytes: Number(blocks * 512n), inodes };
}
