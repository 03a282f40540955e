/**
 * RuntimeService PodSandboxStats and ListPodSandboxStats: the sum of the pod's containers' CPU and memory,
 * its network counters (eth0 as the default interface), and each container's stats.
 */
import type {
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponse,
  PodSandboxStats,
  PodSandboxStatsRequest,
  PodSandboxStatsResponse,
} from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ContainerService } from '../runtime/index.js';
import type { Sandbox } from '../sandbox/index.js';
import { toCriStats } from './container-stats.js';
import type { Sandboxes } from './pod-sandbox.js';
import type { CallContext } from './server.js';

export type PodUsageSource = Pick<ContainerService, 'podUsage'>;

const u64 = (value: number | bigint) => ({ value: BigInt(value) });

async function statsOf(pod: Sandbox, source: PodUsageSource, nowNs: bigint): Promise<PodSandboxStats> {
  const { containers, interfaces } = await source.podUsage(pod.namespace, pod.id);
  const samples = containers.flatMap((u) => (u.cgroup === undefined ? [] : [{ g: u.cgroup, rate: u.cpuNanoCores }]));
  const sum = (f: (x: (typeof samples)[number]) => number | bigint): bigint =>
    samples.reduce((n, x) => n + BigInt(f(x)), 0n);
  const toInterface = (i: NonNullable<typeof interfaces>[number]) => ({
    name: i.name,
    rxBytes: u64(i.rxBytes),
    rxErrors: u64(i.rxErrors),
    txBytes: u64(i.txBytes),
    txErrors: u64(i.txErrors),
  });
  const eth0 = interfaces?.find((i) => i.name === 'eth0') ?? interfaces?.[0];
  return {
    attributes: {
      id: pod.id,
      metadata: pod.config.metadata,
      labels: { ...pod.spec.labels },
      annotations: { ...pod.spec.annotations },
    },
    linux: {
      cpu:
        samples.length === 0
          ? undefined
          : {
              timestamp: nowNs,
              usageCoreNanoSeconds: u64(sum((x) => x.g.cpuUsageNs)),
              usageNanoCores: u64(sum((x) => x.rate)),
              psi: undefined,
            },
      memory:
        samples.length === 0
          ? undefined
          : {
              timestamp: nowNs,
              workingSetBytes: u64(sum((x) => x.g.memoryWorkingSetBytes)),
              availableBytes: undefined,
              usageBytes: u64(sum((x) => x.g.memoryUsageBytes)),
              rssBytes: u64(sum((x) => x.g.memoryRssBytes)),
              pageFaults: u64(sum((x) => x.g.pageFaults)),
              majorPageFaults: u64(sum((x) => x.g.majorPageFaults)),
              psi: undefined,
            },
      network:
        interfaces === undefined
          ? undefined
          : {
              timestamp: nowNs,
              defaultInterface: eth0 === undefined ? undefined : toInterface(eth0),
              interfaces: interfaces.map(toInterface),
            },
      process: undefined,
      containers: containers.map((u) => toCriStats(u, nowNs)),
      io: undefined,
    },
    windows: undefined,
  };
}

export function podSandboxStats(sandboxes: Sandboxes, source: PodUsageSource, nowNs: () => bigint) {
  return async (request: PodSandboxStatsRequest, ctx: CallContext): Promise<PodSandboxStatsResponse> => {
    if (request.podSandboxId === '') throw new BerthError('INVALID_ARGUMENT', 'PodSandboxStats needs a pod id');
    return { stats: await statsOf(sandboxes.get(ctx.namespace, request.podSandboxId), source, nowNs()) };
  };
}

export function listPodSandboxStats(sandboxes: Sandboxes, source: PodUsageSource, nowNs: () => bigint) {
  return async (request: ListPodSandboxStatsRequest, ctx: CallContext): Promise<ListPodSandboxStatsResponse> => {
    const f = request.filter;
    const pods = sandboxes.list(ctx.namespace, { ...(f?.id ? { id: f.id } : {}), labels: f?.labelSelector ?? {} });
    const now = nowNs();
    return { stats: await Promise.all(pods.map((p) => statsOf(p, source, now))) };
  };
}
