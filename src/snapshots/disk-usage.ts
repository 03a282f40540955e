/**
 * Disk usage of a directory tree, as `du` counts it: allocated blocks (st_blocks * 512) and inodes, each
 * inode once however many hardlinks reach it, never following symlinks and never crossing into another
 * filesystem (a mount inside the tree is someone else's usage, and descending could be very slow).
 */
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskUsage {
  readonly bytes: number;
  readonly inodes: number;
}

/** Usage of the trees together (a file hardlinked into two of them counts once); a missing root counts 0. */
export async function diskUsage(roots: readonly string[]): Promise<DiskUsage> {
  // Only inodes with more than one link can be met twice: remembering just those keeps memory small.
  const linked = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const visit = async (path: string, dev: number | undefined): Promise<void> => {
    const st = await lstat(path, { bigint: false }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined; // removed while we walked
      throw err;
    });
    if (st === undefined || (dev !== undefined && st.dev !== dev)) return;
    if (!st.isDirectory() && st.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      if (linked.has(id)) return;
      linked.add(id);
    }
    inodes += 1;
    bytes += st.blocks * 512;
    if (!st.isDirectory()) return;
    const dir = await opendir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (dir === undefined) return;
    for await (const entry of dir) await visit(join(path, entry.name), st.dev);
  };
  for (const root of roots) await visit(root, undefined);
  return { bytes, inodes };
}
