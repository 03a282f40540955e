/**
 * CPU, memory and process counts of one cgroup, for CRI ContainerStats and PodSandboxStats, on cgroup v1 (and
 * hybrid, as on the CI machine) and on pure v2. The cgroup is named by the OCI `linux.cgroupsPath` runc was
 * given (see cgroup-path.ts); the mounts come from mountinfo (see cgroup-layout.ts).
 *
 * The numbers follow what containerd's CRI plugin and CRI-O report, so kubelet eviction and `kubectl top`
 * see the same values under Berth:
 *   usage core ns   v1 cpuacct.usage;  v2 cpu.stat usage_usec * 1000
 *   usage bytes     v1 memory.usage_in_bytes;  v2 memory.current
 *   working set     usage - inactive file pages (v1 memory.stat total_inactive_file, v2 inactive_file), >= 0
 *   rss             v1 total_rss;  v2 anon (anonymous memory plus swap cache)
 *   page faults     v1 total_pgfault / total_pgmajfault;  v2 pgfault / pgmajfault
 *   available       limit - working set, only when a limit is set
 *   pids            pids.current (tasks, as CRI-O reports process_count)
 * A missing controller gives zeros (or undefined where the type says so); a missing cgroup gives undefined.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError } from '../base/errors.js';
import { readCgroupLayout } from './cgroup-layout.js';
import type { CgroupLayout, CgroupMode } from './cgroup-layout.js';
import { cgroupRelativePath } from './cgroup-path.js';
import type { CgroupDriver } from './cgroup-path.js';

export interface CgroupSample {
  /** Unix time in ns when the sample was taken (CRI timestamps are Unix ns). */
  readonly timestampNs: bigint;
  /** Cumulative CPU time of every task in the cgroup, all cores. */
  readonly cpuUsageNs: bigint;
  readonly memoryUsageBytes: number;
  readonly memoryWorkingSetBytes: number;
  readonly memoryRssBytes: number;
  /** undefined without a memory limit. */
  readonly memoryLimitBytes: number | undefined;
  /** limit - working set (>= 0); undefined without a memory limit. */
  readonly memoryAvailableBytes: number | undefined;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
  /** Tasks in the cgroup; undefined where the pids controller is not available. */
  readonly pidsCurrent: number | undefined;
}

export interface CgroupStatsOptions {
  /** Where to learn the cgroup mounts; tests point it at a fake file describing a temp tree. */
  readonly mountinfoPath?: string;
  /** Unix time in ns. */
  readonly nowNs?: () => bigint;
}

/**
 * v1 reports "no limit" as PAGE_COUNTER_MAX pages (0x7FFFFFFFFFFFF000 with 4 KiB pages); anything this large
 * is no real limit. CRI-O uses the same 2^62 cut-off.
 */
const V1_NO_LIMIT_BYTES = 2 ** 62;

/** A file that is absent because the cgroup or its controller is: ENOENT, or ENODEV when removed mid-read. */
const ABSENT_CODES: ReadonlySet<string> = new Set(['ENOENT', 'ENODEV', 'ENOTDIR']);

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && ABSENT_CODES.has(code)) return undefined;
    throw new BerthError('INTERNAL', `read cgroup file ${path}: ${code ?? String(err)}`, { cause: err });
  }
}

/** "key value" lines (memory.stat, cpu.stat) into a map; values stay strings so callers pick Number or BigInt. */
export function parseFlatKeyed(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) out.set(line.slice(0, space), line.slice(space + 1).trim());
  }
  return out;
}

function toNumber(value: string | undefined): number {
  const n = Number((value ?? '').trim());
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function toBigInt(value: string | undefined): bigint {
  const text = (value ?? '').trim();
  return /^\d+$/.test(text) ? BigInt(text) : 0n;
}

function wallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

interface MemoryNumbers {
  readonly usage: number;
  readonly inactiveFile: number;
  readonly rss: number;
  readonly limit: number | undefined;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
}

function sampleOf(timestampNs: bigint, cpuUsageNs: bigint, m: MemoryNumbers, pids: string | undefined): CgroupSample {
  const workingSet = Math.max(0, m.usage - m.inactiveFile);
  return {
    timestampNs,
    cpuUsageNs,
    memoryUsageBytes: m.usage,
    memoryWorkingSetBytes: workingSet,
    memoryRssBytes: m.rss,
    memoryLimitBytes: m.limit,
    memoryAvailableBytes: m.limit === undefined ? undefined : Math.max(0, m.limit - workingSet),
    pageFaults: m.pageFaults,
    majorPageFaults: m.majorPageFaults,
    pidsCurrent: pids === undefined ? undefined : toNumber(pids),
  };
}

export class CgroupStats {
  private layoutPromise: Promise<CgroupLayout> | undefined;
  private readonly mountinfoPath: string;
  private readonly nowNs: () => bigint;

  constructor(opts: CgroupStatsOptions = {}) {
    this.mountinfoPath = opts.mountinfoPath ?? '/proc/self/mountinfo';
    this.nowNs = opts.nowNs ?? wallClockNs;
  }

  /** The cgroup mounts, read once (they do not move while berthd runs); a failed read is retried next call. */
  layout(): Promise<CgroupLayout> {
    this.layoutPromise ??= readCgroupLayout(this.mountinfoPath).catch((err: unknown) => {
      this.layoutPromise = undefined;
      throw err;
    });
    return this.layoutPromise;
  }

  async detect(): Promise<CgroupMode> {
    return (await this.layout()).mode;
  }

  /**
   * One sample of the cgroup runc made for `cgroupsPath`; undefined when the cgroup does not exist (the
   * container is not running, or exited while we read). `nowNs` overrides the sample time (one time for a
   * whole list).
   */
  async read(cgroupsPath: string, driver: CgroupDriver, nowNs?: bigint): Promise<CgroupSample | undefined> {
    const rel = cgroupRelativePath(cgroupsPath, driver);
    const layout = await this.layout();
    const at = nowNs ?? this.nowNs();
    return layout.mode === 'v2' ? this.readV2(layout, rel, at) : this.readV1(layout, rel, at);
  }

  private async readV1(layout: CgroupLayout, rel: string, at: bigint): Promise<CgroupSample | undefined> {
    const file = (controller: string, name: string): Promise<string | undefined> => {
      const mount = layout.v1.get(controller);
      return mount === undefined ? Promise.resolve(undefined) : readOptional(join(mount, rel, name));
    };
    const [usage, memUsage, memStat, limit, pids] = await Promise.all([
      file('cpuacct', 'cpuacct.usage'),
      file('memory', 'memory.usage_in_bytes'),
      file('memory', 'memory.stat'),
      file('memory', 'memory.limit_in_bytes'),
      file('pids', 'pids.current'),
    ]);
    // runc makes the cgroup under every controller; if neither of the two we need has it, it is gone.
    if (usage === undefined && memUsage === undefined) return undefined;
    const stat = parseFlatKeyed(memStat);
    const limitBytes = limit === undefined ? undefined : toNumber(limit);
    return sampleOf(
      at,
      toBigInt(usage),
      {
        usage: toNumber(memUsage),
        inactiveFile: toNumber(stat.get('total_inactive_file')),
        rss: toNumber(stat.get('total_rss')),
        limit: limitBytes === undefined || limitBytes === 0 || limitBytes >= V1_NO_LIMIT_BYTES ? undefined : limitBytes,
        pageFaults: toNumber(stat.get('total_pgfault')),
        majorPageFaults: toNumber(stat.get('total_pgmajfault')),
      },
      pids,
    );
  }

  private async readV2(layout: CgroupLayout, rel: string, at: bigint): Promise<CgroupSample | undefined> {
    const dir = join(layout.unified ?? '/sys/fs/cgroup', rel);
    const [cpuStat, current, memStat, max, pids] = await Promise.all([
      readOptional(join(dir, 'cpu.stat')),
      readOptional(join(dir, 'memory.current')),
      readOptional(join(dir, 'memory.stat')),
      readOptional(join(dir, 'memory.max')),
      readOptional(join(dir, 'pids.current')),
    ]);
    // cpu.stat is a core file every v2 cgroup has, whatever controllers are enabled: without it, no cgroup.
    if (cpuStat === undefined) return undefined;
    const cpu = parseFlatKeyed(cpuStat);
    const mem = parseFlatKeyed(memStat);
    const maxText = max?.trim();
    return sampleOf(
      at,
      toBigInt(cpu.get('usage_usec')) * 1000n,
      {
        usage: toNumber(current),
        inactiveFile: toNumber(mem.get('inactive_file')),
        rss: toNumber(mem.get('anon')),
        limit: maxText === undefined || maxText === 'max' ? undefined : toNumber(maxText),
        pageFaults: toNumber(mem.get('pgfault')),
        majorPageFaults: toNumber(mem.get('pgmajfault')),
      },
      pids,
    );
  }
}
