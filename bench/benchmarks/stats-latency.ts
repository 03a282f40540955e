/**
 * Stats latency on a busy node (issue #7): 200 running `sleep` containers in 100 pods of 2 (set up 4 pods at a
 * time, see scale-pods.ts), left 3 s to settle (both daemons compute CPU rates from two samples).
 *
 * Timed, sequentially on one connection, 30 rounds after 3 warm-up rounds, each round calling once each of
 * ListContainerStats (200 answers) and ListPodSandboxStats (100), with no filter, as the kubelet's CRI stats
 * provider calls them. The answers' sizes are checked once, untimed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, Metric } from '../benchmark.js';
import { withPodEnv } from '../pod-env.js';
import { expectCount, latencyMetrics, probe, runScalePods, sampleRounds } from '../scale-pods.js';

const PODS = 100;
const SLEEP = ['/bin/sleep', '3600'];
const CONTAINERS = [
  { name: 'app', command: SLEEP },
  { name: 'sidecar', command: SLEEP },
] as const;
const ROUNDS = 30;
const WARMUP_ROUNDS = 3;
const SETTLE_MS = 3_000;
const CALL_DEADLINE_MS = 60_000;

export const statsLatency: Benchmark = {
  name: 'stats-latency',
  description: `ListContainerStats/ListPodSandboxStats p50/p99 with ${PODS * CONTAINERS.length} running containers in ${PODS} pods`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      await runScalePods(env, {
        prefix: 'stats',
        pods: PODS,
        containers: CONTAINERS,
        log: (m) => ctx.log(`stats-latency ${m}`),
      });
      await sleep(SETTLE_MS);
      const deadline = { deadlineMs: CALL_DEADLINE_MS };
      const samples = await sampleRounds(
        [
          probe({
            name: 'container stats',
            call: () => env.client.listContainerStats(deadline),
            check: (l) => expectCount('ListContainerStats', l.length, PODS * CONTAINERS.length),
          }),
          probe({
            name: 'pod stats',
            call: () => env.client.listPodSandboxStats(deadline),
            check: (l) => expectCount('ListPodSandboxStats', l.length, PODS),
          }),
        ],
        ROUNDS,
        WARMUP_ROUNDS,
      );
      const metrics = latencyMetrics(samples, 1);
      ctx.log(
        `stats-latency ${env.daemon.name}: ${metrics.map((m) => `${m.name} ${m.value.toFixed(1)}`).join(', ')} ms`,
      );
      return metrics;
    });
  },
};
