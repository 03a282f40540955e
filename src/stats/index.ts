/**
 * stats: resource usage read from the kernel, for CRI ContainerStats, ListContainerStats and PodSandboxStats.
 *   CgroupStats      one sample of a cgroup named by its OCI cgroupsPath (cgroupfs or systemd driver), on
 *                    cgroup v1, hybrid (v1 controllers + an empty v2 tree) and pure v2: CPU time, memory usage,
 *                    working set, rss, limit, available, page faults, tasks. undefined when the cgroup is gone.
 *   sumCgroupSamples a pod's usage from its containers' samples when the pod has no cgroup of its own.
 *   CpuRateTracker   usage_nano_cores from two samples per id (0 on the first), forgetting idle ids.
 *   DiskUsageCache   disk usage per key (a directory, or a snapshot key with the snapshotter's walk) with a
 *                    max age, shared walks and bounded concurrency; the walk itself is base/disk-usage.ts.
 *   readNetDev       a network namespace's interface counters, through a process inside it.
 * Owns nothing on disk; reads /proc/self/mountinfo once and the cgroup files on every read.
 */
export { CgroupStats } from './cgroup-stats.js';
export type { CgroupSample, CgroupStatsOptions } from './cgroup-stats.js';
export { parseCgroupLayout } from './cgroup-layout.js';
export type { CgroupLayout, CgroupMode } from './cgroup-layout.js';
export { cgroupRelativePath, expandSlice } from './cgroup-path.js';
export type { CgroupDriver } from './cgroup-path.js';
export { sumCgroupSamples } from './sum-samples.js';
export { CpuRateTracker } from './cpu-rate-tracker.js';
export type { CpuRateTrackerOptions, CpuUsagePoint } from './cpu-rate-tracker.js';
export type { DiskUsage } from '../base/disk-usage.js';
export { DiskUsageCache } from './disk-usage-cache.js';
export type { DiskUsageCacheOptions } from './disk-usage-cache.js';
export { parseNetDev, readNetDev } from './net-dev.js';
export type { InterfaceUsage } from './net-dev.js';
export { probeCgroups } from './cgroup-probe.js';
export type { CgroupProbeOptions } from './cgroup-probe.js';
export { readCgroupLayout } from './cgroup-layout.js';
