/**
 * What a benchmark is. A benchmark is one module in bench/benchmarks/ exporting a Benchmark, registered in
 * bench/benchmarks/index.ts. run() is called once per daemon under test and returns that daemon's metrics;
 * each metric becomes one table row ("<benchmark> <metric>"), with the same metric names for every daemon.
 */
import type { Daemon, DaemonDriver, StartOptions } from './daemons.js';

export interface Metric {
  /** Short name within the benchmark: "median", "p90", "rss". */
  readonly name: string;
  /** "ms", "MiB", "ops/s", … */
  readonly unit: string;
  readonly value: number;
  /** Digits after the decimal point in tables (default 2). */
  readonly digits?: number;
}

export interface BenchContext {
  readonly driver: DaemonDriver;
  /** Starts a daemon of this driver on a fresh temp dir, tracked so an interrupted run stops it. */
  start(options?: StartOptions): Promise<Daemon>;
  /** Progress line on stderr. */
  log(message: string): void;
}

export interface Benchmark {
  /** kebab-case, used by --only. */
  readonly name: string;
  /** One line for --list and BENCHMARKS.md. */
  readonly description: string;
  run(ctx: BenchContext): Promise<readonly Metric[]>;
}

/** Runs fn with a started daemon, and always stops it. */
export async function withDaemon<T>(
  ctx: BenchContext,
  fn: (daemon: Daemon) => Promise<T>,
  options: StartOptions = {},
): Promise<T> {
  const daemon = await ctx.start(options);
  try {
    return await fn(daemon);
  } finally {
    await daemon.stop();
  }
}
