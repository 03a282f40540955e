/**
 * CPU and memory usage of a container's cgroup, for CRI ContainerStats, on cgroup v1 (and hybrid, as on this
 * node: v1 controllers under /sys/fs/cgroup/<controller>) and on pure v2 (one unified tree). The container's
 * cgroup is found from its OCI cgroupsPath as runc creates it: cgroupfs "/parent/id", systemd "slice:prefix:id"
 * (-> the slice's nested path plus "prefix-id.scope").
 * Working set = usage - inactive file pages, as kubelet and containerd compute it.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupSample {
  readonly timestampNs: bigint;
  readonly cpuUsageNs: bigint;
  readonly memoryUsageBytes: number;
  readonly memoryWorkingSetBytes: number;
  readonly memoryRssBytes: number;
  /** undefined without a memory limit. */
  readonly memoryLimitBytes: number | undefined;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
}

export type CgroupMode = 'v1' | 'v2';

/** v1 reports "no limit" as a page-aligned huge number. */
const V1_NO_LIMIT = 2 ** 62;

/** The cgroup's path below a hierarchy root, from its OCI cgroupsPath. */
export function cgroupRelativePath(cgroupsPath: string, driver: 'cgroupfs' | 'systemd'): string {
  if (driver === 'cgroupfs') return cgroupsPath.replace(/^\/+/, '');
  const [slice = '', prefix = '', name = ''] = cgroupsPath.split(':');
  // "a-b-c.slice" lives at a.slice/a-b.slice/a-b-c.slice (systemd's slice nesting).
  const parts = slice
    .replace(/\.slice$/, '')
    .split('-')
    .filter((p) => p !== '');
  const slices = parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
  return [...slices, `${prefix}-${name}.scope`].join('/');
}

function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key !== undefined && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

export class CgroupStats {
  private mode: CgroupMode | undefined;

  constructor(private readonly root = '/sys/fs/cgroup') {}

  async detect(): Promise<CgroupMode> {
    if (this.mode !== undefined) return this.mode;
    const isV2 = await readFile(join(this.root, 'cgroup.controllers'), 'utf8').then(
      () => true,
      () => false,
    );
    this.mode = isV2 ? 'v2' : 'v1';
    return this.mode;
  }

  /** undefined when the cgroup does not exist (the container is not running). */
  async read(cgroupsPath: string, driver: 'cgroupfs' | 'systemd', nowNs: bigint): Promise<CgroupSample | undefined> {
    const rel = cgroupRelativePath(cgroupsPath, driver);
    return (await this.detect()) === 'v2' ? this.readV2(rel, nowNs) : this.readV1(rel, nowNs);
  }

  private async readV1(rel: string, nowNs: bigint): Promise<CgroupSample | undefined> {
    const cpuDir = join(this.root, 'cpuacct', rel);
    const memDir = join(this.root, 'memory', rel);
    const [usage, memUsage, memStat, limit] = await Promise.all([
      readFile(join(cpuDir, 'cpuacct.usage'), 'utf8').catch(() => undefined),
      readFile(join(memDir, 'memory.usage_in_bytes'), 'utf8').catch(() => undefined),
      readFile(join(memDir, 'memory.stat'), 'utf8').catch(() => ''),
      readFile(join(memDir, 'memory.limit_in_bytes'), 'utf8').catch(() => undefined),
    ]);
    if (usage === undefined && memUsage === undefined) return undefined;
    const stats = parseKeyValues(memStat);
    const used = Number(memUsage ?? 0);
    const inactive = stats.get('total_inactive_file') ?? 0;
    const limitBytes = Number(limit ?? NaN);
    return {
      timestampNs: nowNs,
      cpuUsageNs: BigInt((usage ?? '0').trim() || '0'),
      memoryUsageBytes: used,
      memoryWorkingSetBytes: Math.max(0, used - inactive),
      memoryRssBytes: stats.get('total_rss') ?? 0,
      memoryLimitBytes: Number.isFinite(limitBytes) && limitBytes < V1_NO_LIMIT ? limitBytes : undefined,
      pageFaults: stats.get('total_pgfault') ?? 0,
      majorPageFaults: stats.get('total_pgmajfault') ?? 0,
    };
  }

  private async readV2(rel: string, nowNs: bigint): Promise<CgroupSample | undefined> {
    const dir = join(this.root, rel);
    if (
      !(await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      return undefined;
    const [cpuStat, current, memStat, max] = await Promise.all([
      readFile(join(dir, 'cpu.stat'), 'utf8').catch(() => ''),
      readFile(join(dir, 'memory.current'), 'utf8').catch(() => '0'),
      readFile(join(dir, 'memory.stat'), 'utf8').catch(() => ''),
      readFile(join(dir, 'memory.max'), 'utf8').catch(() => 'max'),
    ]);
    const cpu = parseKeyValues(cpuStat);
    const mem = parseKeyValues(memStat);
    const used = Number(current.trim());
    return {
      timestampNs: nowNs,
      cpuUsageNs: BigInt(Math.round((cpu.get('usage_usec') ?? 0) * 1000)),
      memoryUsageBytes: used,
      memoryWorkingSetBytes: Math.max(0, used - (mem.get('inactive_file') ?? 0)),
      memoryRssBytes: mem.get('anon') ?? 0,
      memoryLimitBytes: max.trim() === 'max' ? undefined : Number(max.trim()),
      pageFaults: mem.get('pgfault') ?? 0,
      majorPageFaults: mem.get('pgmajfault') ?? 0,
    };
  }
}

/** usage_nano_cores from two cumulative samples per container; 0 until a second sample exists. */
export class CpuRateTracker {
  private readonly last = new Map<string, { readonly cpuNs: bigint; readonly atNs: bigint }>();

  rate(id: string, sample: { readonly cpuUsageNs: bigint; readonly timestampNs: bigint }): bigint {
    const previous = this.last.get(id);
    this.last.set(id, { cpuNs: sample.cpuUsageNs, atNs: sample.timestampNs });
    if (previous === undefined || sample.timestampNs <= previous.atNs || sample.cpuUsageNs < previous.cpuNs) return 0n;
    return ((sample.cpuUsageNs - previous.cpuNs) * 1_000_000_000n) / (sample.timestampNs - previous.atNs);
  }

  /** Forgets containers that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.last.keys()) if (!ids.has(id)) this.last.delete(id);
  }
}
