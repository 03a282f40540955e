/**
 * List latency on a busy node (issue #7): 1000 containers in 100 pods, each pod one `sleep` container running and
 * 9 `true` containers that have exited (900 exited, 100 running; set up 4 pods at a time, see scale-pods.ts,
 * then polled until all 900 have exited). The kubelet's labels are on every pod and container.
 *
 * Timed, sequentially on one connection, 200 rounds after 20 warm-up rounds, each round calling once each of:
 * ListContainers with no filter (1000 answers), with a label filter on one pod's uid (10, as the kubelet asks
 * for one pod's containers), with a state filter RUNNING (100); ListPodSandbox with no filter (100) and with the
 * pod-uid label filter (1). The answers' sizes are checked once, untimed. Interleaving the calls lets a change
 * of load on the machine hit them all alike. Times include the client decoding the answer (the same code for
 * both daemons).
 */
import { ContainerState } from '../../src/api/gen/cri.js';
import type { Benchmark, Metric } from '../benchmark.js';
import { withPodEnv } from '../pod-env.js';
import {
  POD_UID_LABEL,
  expectCount,
  latencyMetrics,
  probe,
  runScalePods,
  sampleRounds,
  waitUntil,
} from '../scale-pods.js';

const PODS = 100;
const EXITED_PER_POD = 9;
const CONTAINERS = [
  { name: 'app', command: ['/bin/sleep', '3600'] },
  ...Array.from({ length: EXITED_PER_POD }, (_, i) => ({ name: `job-${i}`, command: ['/bin/true'] })),
];
const TOTAL = PODS * CONTAINERS.length;
const ROUNDS = 200;
const WARMUP_ROUNDS = 20;
const EXIT_WAIT_MS = 120_000;
const CALL_DEADLINE_MS = 30_000;

export const listLatency: Benchmark = {
  name: 'list-latency',
  description: `ListContainers/ListPodSandbox p50/p99 with ${TOTAL} containers (${PODS * EXITED_PER_POD} exited) in ${PODS} pods, unfiltered and filtered`,
  async run(ctx): Promise<Metric[]> {
    return withPodEnv(ctx, { isPullingBusybox: true }, async (env) => {
      const pods = await runScalePods(env, {
        prefix: 'list',
        pods: PODS,
        containers: CONTAINERS,
        log: (m) => ctx.log(`list-latency ${m}`),
      });
      const deadline = { deadlineMs: CALL_DEADLINE_MS };
      const exited = { containerState: ContainerState.CONTAINER_EXITED };
      await waitUntil(
        `all ${PODS * EXITED_PER_POD} jobs have exited`,
        async () => (await env.client.listContainers(exited, deadline)).length === PODS * EXITED_PER_POD,
        { timeoutMs: EXIT_WAIT_MS },
      );
      const uid = pods[Math.floor(PODS / 2)]?.config.metadata?.uid ?? '';
      const byPod = { labels: { [POD_UID_LABEL]: uid } };
      const running = { containerState: ContainerState.CONTAINER_RUNNING };
      const samples = await sampleRounds(
        [
          probe({
            name: 'containers',
            call: () => env.client.listContainers({}, deadline),
            check: (l) => expectCount('ListContainers', l.length, TOTAL),
          }),
          probe({
            name: 'containers by label',
            call: () => env.client.listContainers(byPod, deadline),
            check: (l) => expectCount('ListContainers by pod uid', l.length, CONTAINERS.length),
          }),
          probe({
            name: 'containers running',
            call: () => env.client.listContainers(running, deadline),
            check: (l) => expectCount('ListContainers running', l.length, PODS),
          }),
          probe({
            name: 'pods',
            call: () => env.client.listPodSandbox({}, deadline),
            check: (l) => expectCount('ListPodSandbox', l.length, PODS),
          }),
          probe({
            name: 'pods by label',
            call: () => env.client.listPodSandbox(byPod, deadline),
            check: (l) => expectCount('ListPodSandbox by pod uid', l.length, 1),
          }),
        ],
        ROUNDS,
        WARMUP_ROUNDS,
      );
      const metrics = latencyMetrics(samples);
      ctx.log(
        `list-latency ${env.daemon.name}: ${metrics.map((m) => `${m.name} ${m.value.toFixed(2)}`).join(', ')} ms`,
      );
      return metrics;
    });
  },
};
