/**
 * Writable-layer usage for ListContainerStats, cheap enough for the kubelet's 10 s poll of 200 containers:
 * each key is walked at most once per maxAgeMs, concurrent callers share one walk, at most `concurrency`
 * walks run at once, and a stale value (younger than maxStaleMs) is answered at once while a refresh runs
 * behind it, so an RPC never waits for 200 walks. A failed walk is not cached; keys nobody asked about for
 * maxStaleMs are forgotten.
 *
 * A key is whatever the walk measures: a directory with the default walk (base/disk-usage.ts), or a
 * snapshot key when the daemon passes the snapshotter's usageOf (the container service does).
 */
import { diskUsage } from '../base/disk-usage.js';
import type { DiskUsage } from '../base/disk-usage.js';

export interface DiskUsageCacheOptions {
  /** A value younger than this is answered as is; default 30 s. */
  readonly maxAgeMs?: number;
  /** A value older than maxAgeMs but younger than this is answered while a refresh runs; default 5 min. */
  readonly maxStaleMs?: number;
  /** Walks at once; default 4. */
  readonly concurrency?: number;
  readonly nowMs?: () => number;
  /** The walk of one key; default: diskUsage(key) of a directory. Tests count calls through it. */
  readonly walk?: (dir: string) => Promise<DiskUsage>;
}

interface Entry {
  value: DiskUsage | undefined;
  atMs: number;
  lastAskedMs: number;
  inFlight: Promise<DiskUsage> | undefined;
}

export class DiskUsageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private lastPruneMs = 0;
  private readonly maxAgeMs: number;
  private readonly maxStaleMs: number;
  private readonly concurrency: number;
  private readonly nowMs: () => number;
  private readonly walk: (dir: string) => Promise<DiskUsage>;

  constructor(opts: DiskUsageCacheOptions = {}) {
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.maxStaleMs = Math.max(opts.maxStaleMs ?? 300_000, this.maxAgeMs);
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.nowMs = opts.nowMs ?? Date.now;
    this.walk = opts.walk ?? ((dir) => diskUsage(dir));
  }

  /** Usage of `dir`; rejects (NOT_FOUND for a missing directory) only when no usable value is cached. */
  get(dir: string): Promise<DiskUsage> {
    const now = this.nowMs();
    this.pruneIfDue(now);
    const entry = this.entries.get(dir) ?? { value: undefined, atMs: 0, lastAskedMs: now, inFlight: undefined };
    this.entries.set(dir, entry);
    entry.lastAskedMs = now;
    const ageMs = now - entry.atMs;
    if (entry.value !== undefined && ageMs < this.maxAgeMs) return Promise.resolve(entry.value);
    const refresh = this.refresh(dir, entry);
    if (entry.value !== undefined && ageMs < this.maxStaleMs) {
      // The refresh's failure is handled in refresh() (the entry is dropped); this caller has its answer.
      refresh.catch(() => undefined);
      return Promise.resolve(entry.value);
    }
    return refresh;
  }

  /** The next get(dir) walks anew (the layer was removed or replaced). */
  invalidate(dir: string): void {
    this.entries.delete(dir);
  }

  /** Waits for walks in flight; the cache stays usable. */
  async close(): Promise<void> {
    const inFlight = [...this.entries.values()].map((e) => e.inFlight).filter((p) => p !== undefined);
    await Promise.allSettled(inFlight);
  }

  get size(): number {
    return this.entries.size;
  }

  private refresh(dir: string, entry: Entry): Promise<DiskUsage> {
    entry.inFlight ??= this.limited(() => this.walk(dir))
      .then(
        (value) => {
          entry.value = value;
          entry.atMs = this.nowMs();
          return value;
        },
        (err: unknown) => {
          if (this.entries.get(dir) === entry) this.entries.delete(dir);
          throw err;
        },
      )
      .finally(() => {
        entry.inFlight = undefined;
      });
    return entry.inFlight;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await fn();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  private pruneIfDue(now: number): void {
    if (now - this.lastPruneMs < this.maxAgeMs) return;
    this.lastPruneMs = now;
    for (const [dir, entry] of this.entries) {
      if (entry.inFlight === undefined && now - entry.lastAskedMs > this.maxStaleMs) this.entries.delete(dir);
    }
  }
}
