/**
 * Many pods at once (issue #7), as when a node joins or a deployment scales up: 50 chains started together, each
 * RunPodSandbox, then CreateContainer and StartContainer of one `sleep` container in that pod (busybox from a
 * local registry, the kubelet's labels, the benchmark's CNI bridge).
 *
 * 3 rounds, each on an emptied daemon (everything of the previous round removed, untimed). "wall" is from the
 * first request to the last answer of a round (median of the rounds); chain p50/p99 are over all 150 chains,
 * each from its RunPodSandbox request to its StartContainer answer; "run-pod" and "create+start" split a chain.
 */
import type { Benchmark, Metric } from '../benchmark.js';
import { withPodEnv } from '../pod-env.js';
import { kubeletContainerConfig, kubeletPodConfig } from '../scale-pods.js';
import { elapsedMs, summarize } from '../stats.js';

const CHAINS = 50;
const ROUNDS = 3;
/** Generous: 50 chains on a 2-core machine queue behind each other. */
const CALL_DEADLINE_MS = 180_000;

interface ChainSample {
  readonly runPodMs: number;
  readonly createStartMs: number;
}

export const concurrentChains: Benchmark = {
  name: 'concurrent-chains',
  description: `${CHAINS} concurrent RunPodSandbox+CreateContainer+StartContainer chains: wall time and per-chain p50/p99 (${ROUNDS} rounds)`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      const deadline = { deadlineMs: CALL_DEADLINE_MS };
      const chains: ChainSample[] = [];
      const walls: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const chain = async (index: number): Promise<ChainSample> => {
          const pod = kubeletPodConfig(env.daemon, `chain${round}`, index);
          const container = kubeletContainerConfig(pod, 'app', env.image, ['/bin/sleep', '3600']);
          const t0 = process.hrtime.bigint();
          const podId = await env.client.runPodSandbox(pod, deadline);
          env.trackPod(podId);
          const t1 = process.hrtime.bigint();
          const id = await env.client.createContainer(podId, container, pod, deadline);
          env.trackContainer(id);
          await env.client.startContainer(id, deadline);
          const t2 = process.hrtime.bigint();
          return { runPodMs: elapsedMs(t0, t1), createStartMs: elapsedMs(t1, t2) };
        };
        const t0 = process.hrtime.bigint();
        const results = await Promise.allSettled(Array.from({ length: CHAINS }, (_, i) => chain(i)));
        const wallMs = elapsedMs(t0, process.hrtime.bigint());
        const failed = results.flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : []));
        if (failed.length > 0) {
          const first = failed[0] instanceof Error ? failed[0].message : String(failed[0]);
          throw new Error(`round ${round + 1}: ${failed.length} of ${CHAINS} chains failed; first: ${first}`);
        }
        for (const r of results) if (r.status === 'fulfilled') chains.push(r.value);
        walls.push(wallMs);
        ctx.log(`concurrent-chains ${env.daemon.name} round ${round + 1}: ${CHAINS} chains in ${wallMs.toFixed(0)} ms`);
        await env.removeAll();
      }
      const wall = summarize(walls);
      const total = summarize(chains.map((c) => c.runPodMs + c.createStartMs));
      const runPod = summarize(chains.map((c) => c.runPodMs));
      const createStart = summarize(chains.map((c) => c.createStartMs));
      return [
        { name: 'wall median', unit: 'ms', value: wall.p50, digits: 0 },
        { name: 'chain p50', unit: 'ms', value: total.p50, digits: 0 },
        { name: 'chain p99', unit: 'ms', value: total.p99, digits: 0 },
        { name: 'run-pod p50', unit: 'ms', value: runPod.p50, digits: 0 },
        { name: 'create+start p50', unit: 'ms', value: createStart.p50, digits: 0 },
      ];
    });
  },
};
