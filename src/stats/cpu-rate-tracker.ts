/**
 * CRI usage_nano_cores: the CPU rate over a sample window, "core-nanoseconds per second", from two cumulative
 * usage samples of the same container (as containerd and CRI-O compute it). The first sample of an id has no
 * window and answers 0.
 *
 * Two callers polling close together (kubelet every 10 s, plus `crictl stats`) would otherwise give windows of
 * a few ms and a noisy rate: a window shorter than minWindowNs answers the last rate and keeps the older base
 * sample. Ids not sampled for forgetAfterNs are dropped, so removed containers do not pile up even when the
 * caller never calls retain().
 */

export interface CpuRateTrackerOptions {
  /**
   * Shortest window a new rate is computed over; default 100 ms. cpuacct.usage and cpu.stat are exact to the
   * ns, so 100 ms is long enough for a steady rate yet lets a second poll 0.5 s later see one.
   */
  readonly minWindowNs?: bigint;
  /** Drop ids not sampled for this long (sample time); default 10 min. */
  readonly forgetAfterNs?: bigint;
}

export interface CpuUsagePoint {
  readonly cpuUsageNs: bigint;
  readonly timestampNs: bigint;
}

interface Entry {
  /** The sample the next rate is computed from. */
  base: CpuUsagePoint;
  /** The rate last computed (0 before the second sample). */
  rateNanoCores: bigint;
  lastSeenNs: bigint;
}

const NS_PER_S = 1_000_000_000n;

export class CpuRateTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly minWindowNs: bigint;
  private readonly forgetAfterNs: bigint;
  private newestNs = 0n;
  private lastPruneNs = 0n;

  constructor(opts: CpuRateTrackerOptions = {}) {
    this.minWindowNs = opts.minWindowNs ?? NS_PER_S / 10n;
    this.forgetAfterNs = opts.forgetAfterNs ?? 600n * NS_PER_S;
  }

  /** Records the sample and answers usage_nano_cores for `id`. */
  rate(id: string, sample: CpuUsagePoint): bigint {
    if (sample.timestampNs > this.newestNs) this.newestNs = sample.timestampNs;
    this.pruneIfDue();
    const entry = this.entries.get(id);
    if (entry === undefined || sample.cpuUsageNs < entry.base.cpuUsageNs) {
      // First sight, or the counter went backwards (a new cgroup under the same name): start over.
      this.entries.set(id, { base: sample, rateNanoCores: 0n, lastSeenNs: sample.timestampNs });
      return 0n;
    }
    if (sample.timestampNs > entry.lastSeenNs) entry.lastSeenNs = sample.timestampNs;
    const windowNs = sample.timestampNs - entry.base.timestampNs;
    if (windowNs < this.minWindowNs || windowNs <= 0n) return entry.rateNanoCores;
    entry.rateNanoCores = ((sample.cpuUsageNs - entry.base.cpuUsageNs) * NS_PER_S) / windowNs;
    entry.base = sample;
    return entry.rateNanoCores;
  }

  /** Forgets every id not in `ids` (containers that are gone). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.entries.keys()) if (!ids.has(id)) this.entries.delete(id);
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Scans at most a few times per forget period, so a list of N containers costs O(N), not O(N^2). */
  private pruneIfDue(): void {
    if (this.newestNs - this.lastPruneNs < this.forgetAfterNs / 4n) return;
    this.lastPruneNs = this.newestNs;
    for (const [id, entry] of this.entries) {
      if (this.newestNs - entry.lastSeenNs > this.forgetAfterNs) this.entries.delete(id);
    }
  }
}
