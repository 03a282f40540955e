/**
 * CreateContainer + StartContainer latency, and memory with the containers running (issue #5).
 *
 * Setup (untimed): the busybox test image is pulled from a local registry, then 50 pods are run on a CNI bridge
 * network, one after another: one pod per container, as the kubelet does for single-container pods, so containerd
 * runs a shim and a pause process per pod, and Berth pins namespaces with no process.
 *
 * Timed: one `sleep 3600` container per pod, created and started one after another through the CriClient; each
 * sample is CreateContainer's request to StartContainer's answer, as the kubelet's startContainer waits for both.
 * create and start are also reported alone (p50).
 *
 * Memory, 2 s after the last start: Rss and Pss (smaps_rollup, see processes.ts) of the daemon and of its
 * per-container monitors (Berth: 50 conmon; containerd: 50 containerd-shim-runc-v2 and 50 pause). "per
 * container" divides the monitors (with pause) by 50; "total" adds the daemon. The containers' own sleep
 * processes are the same on both sides and are left out. Everything is removed before the daemon stops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PodSandboxConfig } from '../../src/api/gen/cri.js';
import type { Benchmark, Metric } from '../benchmark.js';
import { benchPodConfig, sleepContainerConfig, withPodEnv } from '../pod-env.js';
import { addMemory, kibToMib, readProcessTable, readTotalMemory, selectDaemonProcesses } from '../processes.js';
import { elapsedMs, summarize } from '../stats.js';

const CONTAINERS = 50;
/** Let the monitors and the daemon settle (lazy allocations, timers) before reading memory. */
const SETTLE_MS = 2_000;
const CALL_DEADLINE_MS = 60_000;

interface Sample {
  readonly createMs: number;
  readonly startMs: number;
}

export const containerStart: Benchmark = {
  name: 'container-start',
  description: `CreateContainer+StartContainer latency over ${CONTAINERS} containers (one per running pod), then Rss/Pss of the daemon and its monitors`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      const pods: { readonly id: string; readonly config: PodSandboxConfig }[] = [];
      for (let i = 0; i < CONTAINERS; i++) {
        const config = benchPodConfig(env.daemon, 'start', i);
        pods.push({ id: await env.runPod(config), config });
      }

      const container = sleepContainerConfig(env.image);
      const samples: Sample[] = [];
      for (const pod of pods) {
        const t0 = process.hrtime.bigint();
        const id = await env.client.createContainer(pod.id, container, pod.config, { deadlineMs: CALL_DEADLINE_MS });
        const t1 = process.hrtime.bigint();
        env.trackContainer(id);
        await env.client.startContainer(id, { deadlineMs: CALL_DEADLINE_MS });
        const t2 = process.hrtime.bigint();
        samples.push({ createMs: elapsedMs(t0, t1), startMs: elapsedMs(t1, t2) });
      }

      await sleep(SETTLE_MS);
      const { monitors, pauses } = selectDaemonProcesses(await readProcessTable(), env.daemon);
      const daemonMemory = await readTotalMemory([env.daemon.pid]);
      const monitorMemory = await readTotalMemory(monitors);
      const pauseMemory = await readTotalMemory(pauses);
      const perPod = addMemory(monitorMemory, pauseMemory);
      const total = addMemory(daemonMemory, perPod);

      const both = summarize(samples.map((s) => s.createMs + s.startMs));
      const create = summarize(samples.map((s) => s.createMs));
      const start = summarize(samples.map((s) => s.startMs));
      const mib = (kib: number): string => kibToMib(kib).toFixed(1);
      ctx.log(
        `container-start ${env.daemon.name}: create+start p50 ${both.p50.toFixed(1)} ms (create ${create.p50.toFixed(1)}, start ${start.p50.toFixed(1)}); ` +
          `Pss daemon ${mib(daemonMemory.pssKiB)} MiB, ${monitors.length} monitors ${mib(monitorMemory.pssKiB)} MiB, ` +
          `${pauses.length} pause ${mib(pauseMemory.pssKiB)} MiB`,
      );
      if (monitors.length !== CONTAINERS) {
        throw new Error(`found ${monitors.length} monitor processes of ${env.daemon.name}, expected ${CONTAINERS}`);
      }
      return [
        { name: 'create+start p50', unit: 'ms', value: both.p50, digits: 1 },
        { name: 'create+start p99', unit: 'ms', value: both.p99, digits: 1 },
        { name: 'create+start mean', unit: 'ms', value: both.mean, digits: 1 },
        { name: 'create p50', unit: 'ms', value: create.p50, digits: 1 },
        { name: 'start p50', unit: 'ms', value: start.p50, digits: 1 },
        { name: 'daemon rss', unit: 'MiB', value: kibToMib(daemonMemory.rssKiB), digits: 1 },
        { name: 'daemon pss', unit: 'MiB', value: kibToMib(daemonMemory.pssKiB), digits: 1 },
        { name: 'monitors rss', unit: 'MiB', value: kibToMib(perPod.rssKiB), digits: 1 },
        { name: 'monitors pss', unit: 'MiB', value: kibToMib(perPod.pssKiB), digits: 1 },
        { name: 'per container rss', unit: 'MiB', value: kibToMib(perPod.rssKiB) / CONTAINERS, digits: 2 },
        { name: 'per container pss', unit: 'MiB', value: kibToMib(perPod.pssKiB) / CONTAINERS, digits: 2 },
        { name: 'total rss', unit: 'MiB', value: kibToMib(total.rssKiB), digits: 1 },
        { name: 'total pss', unit: 'MiB', value: kibToMib(total.pssKiB), digits: 1 },
      ];
    });
  },
};
