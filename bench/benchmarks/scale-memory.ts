/**
 * Memory of a full node (issue #7): 200 running pods of 2 `sleep` containers each (busybox from a local registry,
 * pods on the benchmark's CNI bridge, the kubelet's labels; set up 4 pods at a time, see scale-pods.ts).
 *
 * 5 s after the last start: Rss and Pss (smaps_rollup, see processes.ts) of the daemon and of everything it runs
 * per pod or container: Berth's 400 conmon; containerd's 200 containerd-shim-runc-v2 and 200 pause processes.
 * "monitors" is that sum, "per container" divides it by the 400 containers, "total" adds the daemon. The
 * containers' own sleep processes are the same on both sides and are left out. Everything is removed before the
 * daemon stops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, Metric } from '../benchmark.js';
import { withPodEnv } from '../pod-env.js';
import { addMemory, kibToMib, readProcessTable, readTotalMemory, selectDaemonProcesses } from '../processes.js';
import { runScalePods } from '../scale-pods.js';

const PODS = 200;
const SLEEP = ['/bin/sleep', '3600'];
const CONTAINERS = [
  { name: 'app', command: SLEEP },
  { name: 'sidecar', command: SLEEP },
] as const;
const TOTAL_CONTAINERS = PODS * CONTAINERS.length;
/** Let the monitors and the daemon settle (lazy allocations, timers, the GC after the setup burst). */
const SETTLE_MS = 5_000;

export const scaleMemory: Benchmark = {
  name: 'scale-memory',
  description: `Rss/Pss of the daemon and all its monitors with ${PODS} running pods of ${CONTAINERS.length} containers each`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      await runScalePods(env, {
        prefix: 'mem',
        pods: PODS,
        containers: CONTAINERS,
        log: (m) => ctx.log(`scale-memory ${m}`),
      });
      await sleep(SETTLE_MS);
      const { monitors, pauses } = selectDaemonProcesses(await readProcessTable(), env.daemon);
      const expectedMonitors = env.daemon.name === 'berth' ? TOTAL_CONTAINERS : PODS;
      const expectedPauses = env.daemon.name === 'berth' ? 0 : PODS;
      if (monitors.length !== expectedMonitors || pauses.length !== expectedPauses) {
        throw new Error(
          `found ${monitors.length} monitors and ${pauses.length} pause processes of ${env.daemon.name}, ` +
            `expected ${expectedMonitors} and ${expectedPauses}`,
        );
      }
      const daemon = await readTotalMemory([env.daemon.pid]);
      const perPod = addMemory(await readTotalMemory(monitors), await readTotalMemory(pauses));
      const total = addMemory(daemon, perPod);
      const mib = (kib: number): string => kibToMib(kib).toFixed(1);
      ctx.log(
        `scale-memory ${env.daemon.name}: Pss daemon ${mib(daemon.pssKiB)} MiB, ${monitors.length} monitors + ` +
          `${pauses.length} pause ${mib(perPod.pssKiB)} MiB; Rss daemon ${mib(daemon.rssKiB)}, monitors ${mib(perPod.rssKiB)} MiB`,
      );
      return [
        { name: 'daemon rss', unit: 'MiB', value: kibToMib(daemon.rssKiB), digits: 1 },
        { name: 'daemon pss', unit: 'MiB', value: kibToMib(daemon.pssKiB), digits: 1 },
        { name: 'monitors rss', unit: 'MiB', value: kibToMib(perPod.rssKiB), digits: 1 },
        { name: 'monitors pss', unit: 'MiB', value: kibToMib(perPod.pssKiB), digits: 1 },
        { name: 'per container rss', unit: 'MiB', value: kibToMib(perPod.rssKiB) / TOTAL_CONTAINERS, digits: 2 },
        { name: 'per container pss', unit: 'MiB', value: kibToMib(perPod.pssKiB) / TOTAL_CONTAINERS, digits: 2 },
        { name: 'total rss', unit: 'MiB', value: kibToMib(total.rssKiB), digits: 1 },
        { name: 'total pss', unit: 'MiB', value: kibToMib(total.pssKiB), digits: 1 },
      ];
    });
  },
};
