/** RuntimeService ContainerStats and ListContainerStats: cgroup CPU/memory and the writable layer's usage. */
import type {
  ContainerStats,
  ContainerStatsRequest,
  ContainerStatsResponse,
  ListContainerStatsRequest,
  ListContainerStatsResponse,
} from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ContainerService, ContainerUsage } from '../runtime/index.js';
import type { CallContext } from './server.js';

export type ContainerUsageSource = Pick<ContainerService, 'usage' | 'get'>;

const u64 = (value: number | bigint) => ({ value: BigInt(value) });

export function toCriStats(u: ContainerUsage, nowNs: bigint): ContainerStats {
  const c = u.container;
  const g = u.cgroup;
  return {
    attributes: {
      id: c.id,
      metadata: c.config.metadata,
      labels: { ...c.config.labels },
      annotations: { ...c.config.annotations },
    },
    cpu:
      g === undefined
        ? undefined
        : {
            timestamp: g.timestampNs,
            usageCoreNanoSeconds: u64(g.cpuUsageNs),
            usageNanoCores: u64(u.cpuNanoCores),
            psi: undefined,
          },
    memory:
      g === undefined
        ? undefined
        : {
            timestamp: g.timestampNs,
            workingSetBytes: u64(g.memoryWorkingSetBytes),
            availableBytes: u64(
              g.memoryLimitBytes === undefined ? 0 : Math.max(0, g.memoryLimitBytes - g.memoryWorkingSetBytes),
            ),
            usageBytes: u64(g.memoryUsageBytes),
            rssBytes: u64(g.memoryRssBytes),
            pageFaults: u64(g.pageFaults),
            majorPageFaults: u64(g.majorPageFaults),
            psi: undefined,
          },
    writableLayer:
      u.writableLayer === undefined
        ? undefined
        : {
            timestamp: nowNs,
            fsId: { mountpoint: u.writableLayerMount },
            usedBytes: u64(u.writableLayer.bytes),
            inodesUsed: u64(u.writableLayer.inodes),
          },
    swap: undefined,
    io: undefined,
  };
}

export function containerStats(source: ContainerUsageSource, nowNs: () => bigint) {
  return async (request: ContainerStatsRequest, ctx: CallContext): Promise<ContainerStatsResponse> => {
    if (request.containerId === '') throw new BerthError('INVALID_ARGUMENT', 'ContainerStats needs a container id');
    const c = source.get(ctx.namespace, request.containerId);
    const [usage] = await source.usage(ctx.namespace, { id: c.id });
    if (usage === undefined) throw new BerthError('NOT_FOUND', `container "${request.containerId}" not found`);
    return { stats: toCriStats(usage, nowNs()) };
  };
}

export function listContainerStats(source: ContainerUsageSource, nowNs: () => bigint) {
  return async (request: ListContainerStatsRequest, ctx: CallContext): Promise<ListContainerStatsResponse> => {
    const f = request.filter;
    const usage = await source.usage(ctx.namespace, {
      ...(f?.id ? { id: f.id } : {}),
      ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
      labels: f?.labelSelector ?? {},
    });
    const now = nowNs();
    return { stats: usage.map((u) => toCriStats(u, now)) };
  };
}
