/**
 * A container's cgroup path below a hierarchy's mount point, from its OCI `linux.cgroupsPath`, computed the
 * way runc does so stats read the cgroup runc created:
 *   cgroupfs  "/kubepods/pod1/<id>"       -> kubepods/pod1/<id>
 *   systemd   "slice:prefix:name"         -> <expanded slice>/prefix-name.scope
 *             "slice:prefix:name.slice"   -> <expanded name.slice> (a slice unit, the prefix is unused)
 *             "kubepods-pod1.slice"       -> the slice alone (a pod's cgroup parent, for PodSandboxStats)
 * Slice expansion follows systemd.slice(5): "a-b-c.slice" lives at a.slice/a-b.slice/a-b-c.slice, "-.slice" is
 * the root, and an empty slice means "system.slice" (runc's default).
 */
import { posix } from 'node:path';
import { BerthError } from '../base/errors.js';

export type CgroupDriver = 'cgroupfs' | 'systemd';

/** "a-b.slice" -> "a.slice/a-b.slice"; "-.slice" -> "" (the root). */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice.includes('/')) {
    throw new BerthError('INVALID_ARGUMENT', `invalid systemd slice name "${slice}"`);
  }
  if (slice === '-.slice') return '';
  const parts = slice.slice(0, -'.slice'.length).split('-');
  // Empty components ("a--b.slice", "-a.slice") are invalid slice names for systemd and runc alike.
  if (parts.some((p) => p === '')) throw new BerthError('INVALID_ARGUMENT', `invalid systemd slice name "${slice}"`);
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`).join('/');
}

function systemdRelativePath(cgroupsPath: string): string {
  const parts = cgroupsPath.split(':');
  if (parts.length === 1) return expandSlice(cgroupsPath);
  if (parts.length !== 3) {
    throw new BerthError('INVALID_ARGUMENT', `systemd cgroupsPath "${cgroupsPath}" is not "slice:prefix:name"`);
  }
  const [slice = '', prefix = '', name = ''] = parts;
  if (name === '' || name.includes('/')) {
    throw new BerthError('INVALID_ARGUMENT', `systemd cgroupsPath "${cgroupsPath}" has an invalid unit name`);
  }
  if (name.endsWith('.slice')) return expandSlice(name);
  const parent = expandSlice(slice === '' ? 'system.slice' : slice);
  return posix.join(parent, `${prefix}-${name}.scope`);
}

/** The path relative to a hierarchy's mount point; never "..", so it cannot leave the cgroup tree. */
export function cgroupRelativePath(cgroupsPath: string, driver: CgroupDriver): string {
  if (driver === 'systemd') return systemdRelativePath(cgroupsPath);
  // Normalizing below "/" drops every leading "..": the result stays inside the hierarchy.
  return posix.normalize(`/${cgroupsPath}`).replace(/^\/+/, '').replace(/\/+$/, '');
}
