/**
 * Which mount points lie inside a directory, from /proc/self/mountinfo (proc(5)). Removing a directory
 * recursively walks into anything mounted inside it and deletes the mounted files too (a container's
 * bind-mounted volume, a host path), so a snapshot directory is removed only when nothing is mounted in it.
 */
import { readFile } from 'node:fs/promises';

/** Field 5 (mount point) of each line, with the kernel's octal escapes (\040 space, \011, \012, \134) undone. */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined || field === '') continue;
    points.push(field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return points;
}

/** Mount points equal to dir or below it; dir is an absolute path without a trailing slash. */
export function mountPointsUnder(mountPoints: readonly string[], dir: string): string[] {
  return mountPoints.filter((p) => p === dir || p.startsWith(`${dir}/`));
}

export async function readMountPoints(mountinfoPath = '/proc/self/mountinfo'): Promise<string[]> {
  return parseMountPoints(await readFile(mountinfoPath, 'utf8'));
}
