// Describes a directory tree entry by entry (never following symlinks) in the terms DESIGN.md uses for
// rootfs equality: type, mode, uid/gid, size, sha256 of content, symlink target, device number, xattrs,
// mtime, and which paths share an inode (hardlinks). Used to compare Berth's trees with umoci's.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, listAttributes } from 'fs-xattr';

export interface TreeEntry {
  readonly type: string;
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  readonly size?: number;
  readonly sha256?: string;
  readonly target?: string;
  readonly rdev?: number;
  readonly xattrs: Readonly<Record<string, string>>;
  readonly mtimeMs: number;
  /** For a file with more than one link: every path of the tree that shares its inode, sorted. */
  readonly links?: readonly string[];
}

/** Not part of the image: overlayfs bookkeeping and the host's security labels. */
const IGNORED_XATTR = /^(trusted\.overlay\.|security\.selinux$)/;

export async function describeTree(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const inodes = new Map<string, string[]>();
  const visit = async (rel: string): Promise<void> => {
    const path = rel === '' ? root : join(root, rel);
    const st = await lstat(path);
    const type = st.isDirectory()
      ? 'dir'
      : st.isFile()
        ? 'file'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isCharacterDevice()
            ? 'chardev'
            : st.isBlockDevice()
              ? 'blockdev'
              : st.isFIFO()
                ? 'fifo'
                : 'other';
    const xattrs: Record<string, string> = {};
    if (type !== 'symlink') {
      for (const name of (await listAttributes(path)).sort()) {
        if (!IGNORED_XATTR.test(name)) xattrs[name] = (await getAttribute(path, name)).toString('hex');
      }
    }
    const entry: TreeEntry = {
      type,
      mode: (st.mode & 0o7777).toString(8).padStart(4, '0'),
      uid: st.uid,
      gid: st.gid,
      xattrs,
      ...(type === 'file' && {
        size: st.size,
        sha256: createHash('sha256')
          .update(await readFile(path))
          .digest('hex'),
      }),
      ...(type === 'symlink' && { target: await readlink(path) }),
      ...((type === 'chardev' || type === 'blockdev') && { rdev: st.rdev }),
      mtimeMs: st.mtimeMs,
    };
    out.set(rel === '' ? '/' : rel, entry);
    if (type !== 'dir' && st.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      inodes.set(id, [...(inodes.get(id) ?? []), rel]);
    }
    if (type === 'dir') {
      for (const name of (await readdir(path)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
    }
  };
  await visit('');
  for (const paths of inodes.values()) {
    const sorted = [...paths].sort();
    for (const p of sorted) out.set(p, { ...out.get(p)!, links: sorted });
  }
  return out;
}

/** Every difference, one line each ("+ path" only in actual, "- path" only in expected, "~ path: field a != b"). */
export function treeDifferences(expected: Map<string, TreeEntry>, actual: Map<string, TreeEntry>): string[] {
  const diffs: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (got === undefined) {
      diffs.push(`- ${path} (${want.type})`);
      continue;
    }
    for (const key of new Set([...Object.keys(want), ...Object.keys(got)])) {
      const a = JSON.stringify((want as unknown as Record<string, unknown>)[key]);
      const b = JSON.stringify((got as unknown as Record<string, unknown>)[key]);
      if (a !== b) diffs.push(`~ ${path}: ${key} ${a} != ${b}`);
    }
  }
  for (const [path, got] of actual) if (!expected.has(path)) diffs.push(`+ ${path} (${got.type})`);
  return diffs;
}
