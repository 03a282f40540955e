/**
 * stats: resource usage read from the kernel for CRI ContainerStats: cgroup v1/v2 CPU and memory, and the
 * CPU rate between two samples. The writable layer's disk usage comes from the snapshotter.
 */
export { CgroupStats, CpuRateTracker, cgroupRelativePath } from './cgroup-stats.js';
export type { CgroupMode, CgroupSample } from './cgroup-stats.js';
export { parseNetDev, readNetDev } from './net-dev.js';
export type { InterfaceUsage } from './net-dev.js';
