/**
 * What the pod and container benchmarks share: a daemon started on a CNI bridge network of its own
 * (cni-network.ts), containerd given its pause image (pause-image.ts), optionally the test images served by a
 * local registry with busybox pulled into the daemon, and the one CriClient.
 *
 * Every pod and container a benchmark makes is tracked (runPod/runContainer do it; trackPod/trackContainer for
 * calls a benchmark times itself). When the benchmark is done, even when it failed, withPodEnv stops and removes
 * them all while the daemon still runs, then checks that the daemon lists none and that none of its monitor or
 * pause processes is left (containers outlive their daemon, so a leak would survive the run); a leak fails the
 * benchmark. Removal runs a few calls at a time (the scale benchmarks leave up to 1000 containers). Then the
 * cgroup tree of pods given a benchCgroupBase parent (cgroups.ts) goes too. Then the daemon stops and the registry and network go.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { ContainerConfig, PodSandboxConfig } from '../src/api/gen/cri.js';
import { startRegistry } from '../test/harness/registry.js';
import type { Registry } from '../test/harness/registry.js';
import { buildTestImages } from '../test/harness/test-images.js';
import type { BenchContext } from './benchmark.js';
import { withDaemon } from './benchmark.js';
import { benchCgroupBase, removeBenchCgroups } from './cgroups.js';
import { benchNetwork } from './cni-network.js';
import { CriClient } from './cri-client.js';
import type { Daemon } from './daemons.js';
import { waitReady } from './daemons.js';
import { importPause } from './pause-image.js';
import { mapLimited } from './parallel.js';
import { readProcessTable, selectDaemonProcesses } from './processes.js';

const PULL_DEADLINE_MS = 120_000;
const RUN_POD_DEADLINE_MS = 60_000;
/** How long monitors may take to exit after their container or pod is removed (containerd's shims linger a little). */
const MONITOR_EXIT_WAIT_MS = 10_000;
const MONITOR_POLL_MS = 100;
/** Removals in flight at once: the scale benchmarks leave up to 1000 containers behind. */
const REMOVE_CONCURRENCY = 4;

export interface PodEnvOptions {
  /** Serve the test images from a local registry and pull busybox into the daemon (env.image). */
  readonly isPullingBusybox?: boolean;
}

export interface PodEnv {
  readonly daemon: Daemon;
  readonly client: CriClient;
  /** The pulled busybox reference; throws unless isPullingBusybox was set. */
  readonly image: string;
  /** Registers a pod the benchmark ran itself, for removal at the end. */
  trackPod(podId: string): void;
  /** Registers a container the benchmark created itself, for removal at the end. */
  trackContainer(containerId: string): void;
  /** RunPodSandbox, tracked. */
  runPod(config: PodSandboxConfig): Promise<string>;
  /** CreateContainer + StartContainer, tracked. */
  runContainer(podId: string, config: ContainerConfig, podConfig: PodSandboxConfig): Promise<string>;
  /**
   * Removes everything tracked so far, now, with the same leftover check as at the end (a benchmark that runs
   * several rounds starts each on an empty daemon).
   */
  removeAll(): Promise<void>;
}

/** Pod `<prefix>-<index>` in namespace "bench", as the kubelet would describe it (log dir in the daemon's dir). */
export function benchPodConfig(daemon: Pick<Daemon, 'dir'>, prefix: string, index: number): PodSandboxConfig {
  const name = `${prefix}-${index}`;
  return PodSandboxConfig.fromJSON({
    metadata: { name, namespace: 'bench', uid: `${name}-uid`, attempt: 0 },
    hostname: name,
    logDirectory: join(daemon.dir, 'logs', name),
    linux: {},
  });
}

/** A container that sleeps for an hour: the smallest long-running workload busybox has. */
export function sleepContainerConfig(image: string): ContainerConfig {
  return ContainerConfig.fromJSON({
    metadata: { name: 'sleep', attempt: 0 },
    image: { image },
    command: ['/bin/sleep', '3600'],
    logPath: 'sleep.log',
  });
}

/** Stops and removes what was tracked, then throws if the daemon still lists or runs anything of it. */
async function removeAll(
  daemon: Daemon,
  client: CriClient,
  containers: ReadonlySet<string>,
  pods: ReadonlySet<string>,
): Promise<void> {
  const failures: string[] = [];
  const note = (what: string) => (err: unknown) => {
    failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  };
  await mapLimited([...containers], REMOVE_CONCURRENCY, (id) =>
    client.removeContainer(id).catch(note(`remove container ${id}`)),
  );
  await mapLimited([...pods], REMOVE_CONCURRENCY, (id) => client.removePodSandbox(id).catch(note(`remove pod ${id}`)));
  const leftContainers = await client.listContainerIds({ deadlineMs: 10_000 });
  const leftPods = await client.listPodSandboxIds({ deadlineMs: 10_000 });
  if (leftContainers.length > 0) failures.push(`containers still listed: ${leftContainers.join(', ')}`);
  if (leftPods.length > 0) failures.push(`pods still listed: ${leftPods.join(', ')}`);
  const deadline = Date.now() + MONITOR_EXIT_WAIT_MS;
  for (;;) {
    const { monitors, pauses } = selectDaemonProcesses(await readProcessTable(), daemon);
    if (monitors.length + pauses.length === 0) break;
    if (Date.now() > deadline) {
      failures.push(`processes still running after cleanup: monitors ${monitors.join(' ')}; pause ${pauses.join(' ')}`);
      break;
    }
    await sleep(MONITOR_POLL_MS);
  }
  if (failures.length === 0) {
    await removeBenchCgroups(benchCgroupBase(daemon)).catch(note("remove the pods' cgroups"));
  }
  if (failures.length > 0) throw new Error(`${daemon.name}: cleanup failed:\n  ${failures.join('\n  ')}`);
}

/** Runs fn in a fresh daemon of ctx's driver set up for pods; cleans up everything after it (see the header). */
export async function withPodEnv<T>(
  ctx: BenchContext,
  options: PodEnvOptions,
  fn: (env: PodEnv) => Promise<T>,
): Promise<T> {
  const net = benchNetwork();
  let registry: Registry | undefined;
  try {
    let image: string | undefined;
    if (options.isPullingBusybox === true) {
      registry = await startRegistry();
      image = (await buildTestImages(registry)).busybox.reference;
    }
    return await withDaemon(
      ctx,
      async (daemon) => {
        await waitReady(daemon);
        if (daemon.name === 'containerd') await importPause(daemon);
        const client = new CriClient(daemon.endpoint);
        const pods = new Set<string>();
        const containers = new Set<string>();
        const env: PodEnv = {
          daemon,
          client,
          get image(): string {
            if (image === undefined) throw new Error('withPodEnv: no image (set isPullingBusybox)');
            return image;
          },
          trackPod: (id) => void pods.add(id),
          trackContainer: (id) => void containers.add(id),
          async runPod(config) {
            const id = await client.runPodSandbox(config, { deadlineMs: RUN_POD_DEADLINE_MS });
            pods.add(id);
            return id;
          },
          async runContainer(podId, config, podConfig) {
            const id = await client.createContainer(podId, config, podConfig, { deadlineMs: RUN_POD_DEADLINE_MS });
            containers.add(id);
            await client.startContainer(id, { deadlineMs: RUN_POD_DEADLINE_MS });
            return id;
          },
          async removeAll() {
            await removeAll(daemon, client, containers, pods);
            containers.clear();
            pods.clear();
          },
        };
        try {
          if (image !== undefined) await client.pullImage(image, { deadlineMs: PULL_DEADLINE_MS });
          let result: T;
          try {
            result = await fn(env);
          } catch (err) {
            await removeAll(daemon, client, containers, pods).catch((cleanupErr: unknown) =>
              ctx.log(cleanupErr instanceof Error ? cleanupErr.message : String(cleanupErr)),
            );
            throw err;
          }
          await removeAll(daemon, client, containers, pods);
          return result;
        } finally {
          client.close();
        }
      },
      { cniConflist: net.conflist, registryHosts: registry === undefined ? [] : [registry.host] },
    );
  } finally {
    await registry?.stop();
    await net.remove();
  }
}
