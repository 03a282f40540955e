/**
 * Cold start: from spawn() of the daemon until its first successful CRI Version answer, polled every 5 ms
 * (a fresh client per attempt). Each start uses a fresh temp root/state. One extra start runs first and is
 * discarded, so neither daemon pays for loading its binary and libraries from a cold page cache.
 */
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { waitReady } from '../daemons.js';
import { elapsedMs, summarize } from '../stats.js';

const RUNS = 10;
const WARMUP_RUNS = 1;
const POLL_INTERVAL_MS = 5;

export const coldStart: Benchmark = {
  name: 'cold-start',
  description: `spawn to first successful CRI Version (poll every ${POLL_INTERVAL_MS} ms), ${RUNS} starts on fresh dirs after ${WARMUP_RUNS} discarded`,
  async run(ctx): Promise<Metric[]> {
    const samplesMs: number[] = [];
    for (let i = 0; i < WARMUP_RUNS + RUNS; i++) {
      const ms = await withDaemon(ctx, async (daemon) => {
        const readyAtNs = await waitReady(daemon, { intervalMs: POLL_INTERVAL_MS });
        return elapsedMs(daemon.spawnedAtNs, readyAtNs);
      });
      if (i >= WARMUP_RUNS) samplesMs.push(ms);
    }
    const s = summarize(samplesMs);
    ctx.log(`cold-start ${ctx.driver.name}: ${samplesMs.map((ms) => ms.toFixed(1)).join(' ')} ms`);
    return [
      { name: 'median', unit: 'ms', value: s.p50, digits: 1 },
      { name: 'p90', unit: 'ms', value: s.p90, digits: 1 },
    ];
  },
};
