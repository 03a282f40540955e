/**
 * Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo. Stats need this because the v1
 * controllers sit at mount points that differ between hosts ("cpu,cpuacct" together, or "cpu" and "cpuacct"
 * apart as on the CI machine), and because the mode decides which files hold the numbers:
 *   v1      only v1 controller mounts
 *   hybrid  v1 controller mounts plus a cgroup2 tree beside them (systemd's "unified" mount, no controllers):
 *           runc puts every controller on v1, so stats read v1
 *   v2      one cgroup2 tree holding every controller
 */
import { readFile } from 'node:fs/promises';
import { BerthError } from '../base/errors.js';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupLayout {
  readonly mode: CgroupMode;
  /** v1 controller name -> its mount point (several names share one point when co-mounted). */
  readonly v1: ReadonlyMap<string, string>;
  /** The cgroup2 mount point, if any (in hybrid mode it holds no controllers). */
  readonly unified: string | undefined;
}

/** The kernel's v1 controllers; super options also carry flags (rw, xattr) and named hierarchies (name=systemd). */
const V1_CONTROLLERS: ReadonlySet<string> = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

/** mountinfo escapes space, tab, newline and backslash as \ooo octal (proc(5)). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text; unknown or short lines are skipped (the format grows optional fields). */
export function parseCgroupLayout(mountinfo: string): CgroupLayout {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    // id parent dev root mountpoint options [optional...] - fstype source superoptions
    if (dash < 6 || fields.length < dash + 4) continue;
    const mountPoint = unescapeMountPath(fields[4] ?? '');
    const fsType = fields[dash + 1];
    if (fsType === 'cgroup2') {
      unified ??= mountPoint;
    } else if (fsType === 'cgroup') {
      for (const opt of (fields[dash + 3] ?? '').split(',')) {
        // The first mount wins: later ones are usually bind mounts of the same hierarchy into containers.
        if (V1_CONTROLLERS.has(opt) && !v1.has(opt)) v1.set(opt, mountPoint);
      }
    }
  }
  if (v1.size > 0) return { mode: unified === undefined ? 'v1' : 'hybrid', v1, unified };
  if (unified !== undefined) return { mode: 'v2', v1, unified };
  throw new BerthError('FAILED_PRECONDITION', 'no cgroup filesystem is mounted (checked mountinfo)');
}

export async function readCgroupLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  const text = await readFile(mountinfoPath, 'utf8').catch((err: unknown) => {
    throw new BerthError('FAILED_PRECONDITION', `read ${mountinfoPath}: ${String(err)}`, { cause: err });
  });
  return parseCgroupLayout(text);
}
