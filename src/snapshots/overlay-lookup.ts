/**
 * What overlayfs would show for a directory of a layer stack, found without mounting it: the layer
 * directory whose metadata (mode, owner, xattrs, mtime) the merged view takes. A layer applied in overlay
 * form needs it for the parent directories it creates without a tar entry of their own: an upper
 * directory hides the lower one's metadata, so it must start as a copy of it (umoci keeps the lower
 * directory untouched in that case, and the rootfs must equal umoci's: DESIGN.md).
 *
 * Resolved one component at a time, so a lstat never goes through a symlink: overlayfs merges a path
 * only through layers where every ancestor is a real directory, stops at a whiteout (char device 0/0) or
 * a non-directory, and below an opaque directory (trusted.overlay.opaque=y).
 */
import { chmod, chown, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, listAttributes, setAttribute } from 'fs-xattr';

/** The topmost visible lower directory for rel ("a/b"; "" is the root), or undefined if none is a directory. */
export async function visibleLowerDir(lowerRoots: readonly string[], rel: string): Promise<string | undefined> {
  let layers = [...lowerRoots];
  let prefix = '';
  for (const part of rel === '' ? [] : rel.split('/')) {
    prefix = prefix === '' ? part : `${prefix}/${part}`;
    const merged: string[] = [];
    for (const root of layers) {
      const path = join(root, prefix);
      const st = await lstat(path).catch(() => undefined);
      if (st === undefined) continue;
      if (!st.isDirectory()) break; // a whiteout or a non-directory hides every lower layer
      merged.push(root);
      if (await isOpaque(path)) break;
    }
    if (merged.length === 0) return undefined;
    layers = merged;
  }
  const top = layers[0];
  return top === undefined ? undefined : join(top, prefix);
}

async function isOpaque(dir: string): Promise<boolean> {
  const value = await getAttribute(dir, 'trusted.overlay.opaque').catch(() => undefined);
  return value?.toString() === 'y';
}

/**
 * Gives `to` (a directory the caller made, never a symlink) the mode, owner and xattrs of the real
 * directory `from`, except overlay's own trusted.overlay.* bookkeeping; returns the mtime to give it last.
 */
export async function copyDirMeta(from: string, to: string): Promise<Date> {
  const st = await lstat(from);
  await chown(to, st.uid, st.gid);
  await chmod(to, st.mode & 0o7777);
  for (const name of await listAttributes(from)) {
    if (!name.startsWith('trusted.overlay.')) await setAttribute(to, name, await getAttribute(from, name));
  }
  return st.mtime;
}
