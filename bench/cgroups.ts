/**
 * The cgroup parent the scale benchmarks give their pods, as the kubelet gives every pod one
 * (`/kubepods/besteffort/pod<uid>` with the cgroupfs driver; containerd's ListPodSandboxStats refuses a pod
 * without one). runc creates the parents of a container's cgroup but never removes them, so the benchmark
 * removes its own tree: one top-level cgroup per daemon start, named after the daemon's temp dir, so runs and
 * tests beside each other never share one.
 */
import { readdir, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Daemon } from './daemons.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** "/berth-bench-berth-AbC123": the top cgroup of this daemon's pods (cgroupfs path). */
export function benchCgroupBase(daemon: Pick<Daemon, 'dir'>): string {
  return `/${basename(daemon.dir)}`;
}

/** Depth first: a cgroup directory can only be removed once it has no children. */
async function removeTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  await rmdir(dir);
}

/**
 * Removes base (a benchCgroupBase) and every cgroup below it from each mounted hierarchy (cgroup v1
 * controllers, the v2 tree). Throws when one still holds a process (EBUSY): a leftover.
 */
export async function removeBenchCgroups(base: string): Promise<void> {
  if (!/^\/[\w.-]+$/.test(base)) throw new Error(`not a benchmark cgroup base: ${base}`);
  const hierarchies = await readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => []);
  for (const h of hierarchies) {
    if (h.isDirectory()) await removeTree(join(CGROUP_ROOT, h.name, base));
  }
}
