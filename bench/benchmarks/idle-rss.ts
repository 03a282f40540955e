/**
 * Idle daemon memory: VmRSS of the daemon process (only that process: an idle containerd has no shims)
 * 2 s after its first successful CRI Version answer. Median of 3 starts, each on a fresh temp dir.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { waitReady } from '../daemons.js';
import { median } from '../stats.js';

const SETTLE_MS = 2_000;
const RUNS = 3;

/** VmRSS of pid in KiB, from /proc/PID/status ("VmRSS:	   38200 kB"). */
export async function readVmRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

export const idleRss: Benchmark = {
  name: 'idle-rss',
  description: `VmRSS of the daemon process ${SETTLE_MS / 1000} s after its first Version answer, median of ${RUNS} starts`,
  async run(ctx): Promise<Metric[]> {
    const samplesMiB: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const kib = await withDaemon(ctx, async (daemon) => {
        await waitReady(daemon);
        await sleep(SETTLE_MS);
        if (daemon.hasExited())
          throw new Error(`${daemon.name} exited (${daemon.exitStatus()}) while idle:\n${daemon.stderrTail()}`);
        return readVmRssKiB(daemon.pid);
      });
      samplesMiB.push(kib / 1024);
    }
    ctx.log(`idle-rss ${ctx.driver.name}: ${samplesMiB.map((m) => m.toFixed(1)).join(' ')} MiB`);
    return [{ name: 'rss', unit: 'MiB', value: median(samplesMiB), digits: 1 }];
  },
};
