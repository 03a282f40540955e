/**
 * RunPodSandbox latency: 50 pods run one after another on a CNI bridge network (the real bridge, host-local,
 * portmap and loopback plugins, a bridge and subnet of the benchmark's own), each timed from request to answer;
 * then all are stopped and removed (not timed). containerd runs its pause image (built here from the host's static
 * catatonit and imported with ctr, as no registry is reachable); Berth pins namespaces without one.
 */
import type { Benchmark, Metric } from '../benchmark.js';
import { benchPodConfig, withPodEnv } from '../pod-env.js';
import { elapsedMs, summarize } from '../stats.js';

const PODS = 50;
const RUN_POD_DEADLINE_MS = 60_000;

export const runPod: Benchmark = {
  name: 'run-pod',
  description: `RunPodSandbox latency of ${PODS} pods in a row on a CNI bridge network (p50, p99)`,
  async run(ctx): Promise<Metric[]> {
    const samplesMs = await withPodEnv(ctx, {}, async (env) => {
      const times: number[] = [];
      for (let i = 0; i < PODS; i++) {
        const config = benchPodConfig(env.daemon, 'bench', i);
        const t0 = process.hrtime.bigint();
        const id = await env.client.runPodSandbox(config, { deadlineMs: RUN_POD_DEADLINE_MS });
        times.push(elapsedMs(t0, process.hrtime.bigint()));
        env.trackPod(id);
      }
      return times;
    });
    const s = summarize(samplesMs);
    ctx.log(`run-pod ${ctx.driver.name}: median ${s.p50.toFixed(1)} ms`);
    return [
      { name: 'p50', unit: 'ms', value: s.p50, digits: 1 },
      { name: 'p99', unit: 'ms', value: s.p99, digits: 1 },
    ];
  },
};
