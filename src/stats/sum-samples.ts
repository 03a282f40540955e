/**
 * A pod's usage when the pod has no cgroup of its own (no cgroup_parent: Berth puts each container at
 * /berth/<id>), for CRI PodSandboxStats: the sum of its containers' samples. Limits do not add up into a pod
 * limit, so the sum has none (and no available bytes); tasks are unknown if any container's are.
 */
import type { CgroupSample } from './cgroup-stats.js';

export function sumCgroupSamples(samples: readonly CgroupSample[], timestampNs: bigint): CgroupSample | undefined {
  if (samples.length === 0) return undefined;
  let cpuUsageNs = 0n;
  let usage = 0;
  let workingSet = 0;
  let rss = 0;
  let pageFaults = 0;
  let majorPageFaults = 0;
  let pids: number | undefined = 0;
  for (const s of samples) {
    cpuUsageNs += s.cpuUsageNs;
    usage += s.memoryUsageBytes;
    workingSet += s.memoryWorkingSetBytes;
    rss += s.memoryRssBytes;
    pageFaults += s.pageFaults;
    majorPageFaults += s.majorPageFaults;
    pids = pids === undefined || s.pidsCurrent === undefined ? undefined : pids + s.pidsCurrent;
  }
  return {
    timestampNs,
    cpuUsageNs,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: workingSet,
    memoryRssBytes: rss,
    memoryLimitBytes: undefined,
    memoryAvailableBytes: undefined,
    pageFaults,
    majorPageFaults,
    pidsCurrent: pids,
  };
}
