/**
 * Version RPC latency: 1000 sequential CRI Version calls on one connection after 50 warm-up calls, each timed
 * from the call to its callback. Measures the daemon's per-RPC overhead (gRPC stack, request wrapper).
 */
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { CriClient } from '../cri-client.js';
import { waitReady } from '../daemons.js';
import { elapsedMs, summarize } from '../stats.js';

const CALLS = 1000;
const WARMUP_CALLS = 50;

export const versionLatency: Benchmark = {
  name: 'version-rpc',
  description: `CRI Version latency, ${CALLS} sequential calls on one connection after ${WARMUP_CALLS} warm-up calls`,
  async run(ctx): Promise<Metric[]> {
    const samplesMs = await withDaemon(ctx, async (daemon) => {
      await waitReady(daemon);
      const client = new CriClient(daemon.endpoint);
      try {
        for (let i = 0; i < WARMUP_CALLS; i++) await client.version();
        const out: number[] = [];
        for (let i = 0; i < CALLS; i++) {
          const startNs = process.hrtime.bigint();
          await client.version();
          out.push(elapsedMs(startNs, process.hrtime.bigint()));
        }
        return out;
      } finally {
        client.close();
      }
    });
    const s = summarize(samplesMs);
    return [
      { name: 'p50', unit: 'ms', value: s.p50, digits: 3 },
      { name: 'p99', unit: 'ms', value: s.p99, digits: 3 },
    ];
  },
};
