/**
 * Memory per container: 20 pods with one `sleep` container each (busybox from a local registry, pods on a CNI
 * bridge), then the proportional set size (PSS, from /proc/PID/smaps_rollup, so shared libraries are split
 * fairly) of the daemon and of every per-container monitor: Berth's conmon processes, containerd's
 * containerd-shim-runc-v2 (one per pod). containerd also runs a pause process per pod, reported apart.
 * (container-start measures the same, and Rss too, with 50 containers.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, Metric } from '../benchmark.js';
import { benchPodConfig, sleepContainerConfig, withPodEnv } from '../pod-env.js';
import { kibToMib, readProcessTable, readTotalMemory, selectDaemonProcesses } from '../processes.js';

const PODS = 20;
const SETTLE_MS = 2_000;

export const containerMemory: Benchmark = {
  name: 'container-memory',
  description: `PSS of the daemon and of its per-container monitors with ${PODS} one-container pods running`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      const container = sleepContainerConfig(env.image);
      for (let i = 0; i < PODS; i++) {
        const pod = benchPodConfig(env.daemon, 'mem', i);
        await env.runContainer(await env.runPod(pod), container, pod);
      }
      await sleep(SETTLE_MS);
      const { monitors, pauses } = selectDaemonProcesses(await readProcessTable(), env.daemon);
      const daemonKiB = (await readTotalMemory([env.daemon.pid])).pssKiB;
      const monitorKiB = (await readTotalMemory(monitors)).pssKiB;
      const pauseKiB = (await readTotalMemory(pauses)).pssKiB;
      const mib = (kib: number): string => kibToMib(kib).toFixed(1);
      ctx.log(
        `container-memory ${env.daemon.name}: daemon ${mib(daemonKiB)} MiB, ${monitors.length} monitors ${mib(monitorKiB)} MiB, pause ${mib(pauseKiB)} MiB`,
      );
      return [
        { name: 'daemon', unit: 'MiB', value: kibToMib(daemonKiB), digits: 1 },
        { name: 'monitors', unit: 'MiB', value: kibToMib(monitorKiB), digits: 1 },
        { name: 'per container', unit: 'MiB', value: kibToMib(monitorKiB + pauseKiB) / PODS, digits: 2 },
        { name: 'total', unit: 'MiB', value: kibToMib(daemonKiB + monitorKiB + pauseKiB), digits: 1 },
      ];
    });
  },
};
