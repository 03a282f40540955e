/**
 * Crash and restart with a full node (issue #7): 200 running pods of 2 `sleep` containers each (set up 4 pods
 * at a time, see scale-pods.ts), then 3 times: SIGKILL the daemon (as a crash: no shutdown code runs), spawn it
 * again on the same root and state, and time from that spawn to
 *   - "first version": the first successful CRI Version (polled every 5 ms, a fresh connection per attempt, as
 *     cold-start does);
 *   - "first pod list": from then on, ListPodSandbox polled every 5 ms on one connection until it lists all 200
 *     pods (a daemon could answer before it has reloaded everything);
 *   - "first container list": then ListContainers until it lists all 400 containers as running.
 * The containers outlive the daemon (conmon, containerd's shims), so every restart must find them all running,
 * with the same monitors; anything else fails the benchmark. Median and max over the 3 restarts.
 */
import { ContainerState } from '../../src/api/gen/cri.js';
import type { Benchmark, Metric } from '../benchmark.js';
import { CriClient } from '../cri-client.js';
import { waitReady } from '../daemons.js';
import { withPodEnv } from '../pod-env.js';
import { readProcessTable, selectDaemonProcesses } from '../processes.js';
import { runScalePods, waitUntil } from '../scale-pods.js';
import { elapsedMs, summarize } from '../stats.js';

const PODS = 200;
const SLEEP = ['/bin/sleep', '3600'];
const CONTAINERS = [
  { name: 'app', command: SLEEP },
  { name: 'sidecar', command: SLEEP },
] as const;
const TOTAL_CONTAINERS = PODS * CONTAINERS.length;
const RESTARTS = 3;
const POLL_MS = 5;
const RESTART_TIMEOUT_MS = 120_000;
const CALL_DEADLINE_MS = 10_000;

interface RestartSample {
  readonly versionMs: number;
  readonly podsMs: number;
  readonly containersMs: number;
}

/** Polls call every POLL_MS until it resolves to true (failures count as false); resolves with the hrtime then. */
async function pollUntil(what: string, startNs: bigint, call: () => Promise<boolean>): Promise<bigint> {
  const deadlineNs = startNs + BigInt(RESTART_TIMEOUT_MS) * 1_000_000n;
  for (;;) {
    if (await call().catch(() => false)) return process.hrtime.bigint();
    if (process.hrtime.bigint() > deadlineNs) throw new Error(`no ${what} within ${RESTART_TIMEOUT_MS} ms of restart`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export const restart: Benchmark = {
  name: 'restart',
  description: `kill -9 and restart of the daemon with ${PODS} pods (${TOTAL_CONTAINERS} containers): time to first Version and to full Lists`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      await runScalePods(env, {
        prefix: 'restart',
        pods: PODS,
        containers: CONTAINERS,
        log: (m) => ctx.log(`restart ${m}`),
      });
      const monitorsBefore = selectDaemonProcesses(await readProcessTable(), env.daemon).monitors;
      const deadline = { deadlineMs: CALL_DEADLINE_MS };
      const running = { containerState: ContainerState.CONTAINER_RUNNING };
      const samples: RestartSample[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        await env.daemon.killAndRestart();
        const spawnedAtNs = env.daemon.spawnedAtNs;
        const versionAtNs = await waitReady(env.daemon, { intervalMs: POLL_MS, timeoutMs: RESTART_TIMEOUT_MS });
        const client = new CriClient(env.daemon.endpoint, { isolated: true });
        try {
          const podsAtNs = await pollUntil('full ListPodSandbox', spawnedAtNs, async () => {
            return (await client.listPodSandbox({}, deadline)).length === PODS;
          });
          const containersAtNs = await pollUntil('full ListContainers', spawnedAtNs, async () => {
            return (await client.listContainers(running, deadline)).length === TOTAL_CONTAINERS;
          });
          samples.push({
            versionMs: elapsedMs(spawnedAtNs, versionAtNs),
            podsMs: elapsedMs(spawnedAtNs, podsAtNs),
            containersMs: elapsedMs(spawnedAtNs, containersAtNs),
          });
        } finally {
          client.close();
        }
        const monitorsAfter = selectDaemonProcesses(await readProcessTable(), env.daemon).monitors;
        const lost = monitorsBefore.filter((pid) => !monitorsAfter.includes(pid));
        if (lost.length > 0 || monitorsAfter.length !== monitorsBefore.length) {
          throw new Error(
            `restart ${i + 1}: monitors changed (${monitorsBefore.length} before, ${monitorsAfter.length} after, lost ${lost.join(' ')})`,
          );
        }
        const last = samples[samples.length - 1]!;
        ctx.log(
          `restart ${env.daemon.name} #${i + 1}: version ${last.versionMs.toFixed(0)} ms, pods ${last.podsMs.toFixed(0)} ms, ` +
            `containers ${last.containersMs.toFixed(0)} ms`,
        );
      }
      // The benchmark's own client reconnects before the cleanup uses it.
      await waitUntil('the cleanup client reconnects', () =>
        env.client.version(deadline).then(
          () => true,
          () => false,
        ),
      );
      const version = summarize(samples.map((s) => s.versionMs));
      const pods = summarize(samples.map((s) => s.podsMs));
      const containers = summarize(samples.map((s) => s.containersMs));
      return [
        { name: 'first version median', unit: 'ms', value: version.p50, digits: 0 },
        { name: 'first version max', unit: 'ms', value: version.max, digits: 0 },
        { name: 'first pod list median', unit: 'ms', value: pods.p50, digits: 0 },
        { name: 'first pod list max', unit: 'ms', value: pods.max, digits: 0 },
        { name: 'first container list median', unit: 'ms', value: containers.p50, digits: 0 },
        { name: 'first container list max', unit: 'ms', value: containers.max, digits: 0 },
      ];
    });
  },
};
