/**
 * What the scale benchmarks (issue #7) share: a node's worth of pods, labelled as the kubelet labels them (so a
 * label filter selects what it selects on a real node), run through a PodEnv a few pods at a time; and latency
 * sampling of read calls in interleaved rounds.
 *
 * Setup is untimed. Pods run SETUP_CONCURRENCY at a time (the kubelet too starts pods in parallel), each pod's
 * containers one after another, as the kubelet's SyncPod does. Everything goes through env.runPod/runContainer,
 * so withPodEnv removes it all and checks for leftovers.
 */
import { ContainerConfig } from '../src/api/gen/cri.js';
import type { PodSandboxConfig } from '../src/api/gen/cri.js';
import type { Metric } from './benchmark.js';
import { benchCgroupBase } from './cgroups.js';
import type { Daemon } from './daemons.js';
import { mapLimited } from './parallel.js';
import { benchPodConfig } from './pod-env.js';
import type { PodEnv } from './pod-env.js';
import { elapsedMs, summarize } from './stats.js';

/** The labels the kubelet puts on every pod sandbox and container (kubelet's types/labels.go). */
export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';

/** Pods in setup at once. */
const SETUP_CONCURRENCY = 4;
const SETUP_DEADLINE_MS = 120_000;
/** How often a setup logs its progress. */
const PROGRESS_EVERY_PODS = 50;

/**
 * benchPodConfig with the kubelet's pod labels and a pod cgroup parent as the kubelet's cgroupfs driver makes it
 * (below the daemon's own benchmark cgroup, removed with the pods: cgroups.ts).
 */
export function kubeletPodConfig(daemon: Pick<Daemon, 'dir'>, prefix: string, index: number): PodSandboxConfig {
  const config = benchPodConfig(daemon, prefix, index);
  const { metadata: meta, linux } = config;
  if (meta === undefined || linux === undefined) throw new Error('benchPodConfig gave no metadata or linux config');
  return {
    ...config,
    labels: { [POD_NAME_LABEL]: meta.name, [POD_NAMESPACE_LABEL]: meta.namespace, [POD_UID_LABEL]: meta.uid },
    linux: { ...linux, cgroupParent: `${benchCgroupBase(daemon)}/besteffort/pod${meta.uid}` },
  };
}

/** A container named `name` in that pod, running command from image, with the kubelet's container labels. */
export function kubeletContainerConfig(
  pod: PodSandboxConfig,
  name: string,
  image: string,
  command: readonly string[],
): ContainerConfig {
  return ContainerConfig.fromJSON({
    metadata: { name, attempt: 0 },
    image: { image },
    command,
    logPath: `${name}.log`,
    labels: { ...pod.labels, [CONTAINER_NAME_LABEL]: name },
  });
}

/** A container of a scale pod: its name and command. */
export interface ContainerSpec {
  readonly name: string;
  readonly command: readonly string[];
}

export interface ScalePod {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly containerIds: readonly string[];
}

export interface ScalePodsOptions {
  /** Pod names are `<prefix>-<index>`. */
  readonly prefix: string;
  readonly pods: number;
  /** The containers of each pod, created and started in this order. */
  readonly containers: readonly ContainerSpec[];
  readonly log: (message: string) => void;
}

/** Runs the pods and their containers (busybox: env.image), SETUP_CONCURRENCY pods at a time. */
export async function runScalePods(env: PodEnv, options: ScalePodsOptions): Promise<ScalePod[]> {
  const t0 = process.hrtime.bigint();
  let done = 0;
  const pods = await mapLimited(
    Array.from({ length: options.pods }, (_, i) => i),
    SETUP_CONCURRENCY,
    async (index): Promise<ScalePod> => {
      const config = kubeletPodConfig(env.daemon, options.prefix, index);
      const id = await env.runPod(config);
      const containerIds: string[] = [];
      for (const spec of options.containers) {
        const container = kubeletContainerConfig(config, spec.name, env.image, spec.command);
        containerIds.push(await env.runContainer(id, container, config));
      }
      done++;
      if (done % PROGRESS_EVERY_PODS === 0) options.log(`${env.daemon.name}: ${done}/${options.pods} pods running`);
      return { id, config, containerIds };
    },
  );
  const seconds = elapsedMs(t0, process.hrtime.bigint()) / 1000;
  options.log(
    `${env.daemon.name}: ${options.pods} pods x ${options.containers.length} containers set up in ${seconds.toFixed(1)} s ` +
      `(${SETUP_CONCURRENCY} pods at a time)`,
  );
  return pods;
}

/** Polls check every intervalMs until it returns true; throws with `what` after timeoutMs. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? SETUP_DEADLINE_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** One read call to time; check (untimed, once, after the warm-up) throws when its answer is wrong. */
export interface Probe<T = unknown> {
  readonly name: string;
  call(): Promise<T>;
  check(answer: T): void;
}

/** A Probe with its answer type erased, for lists of probes of different calls. */
export function probe<T>(p: Probe<T>): Probe {
  return p;
}

/**
 * Times `rounds` rounds after `warmupRounds` untimed ones; each round calls every probe once, in order, so a
 * change of load on the machine hits every probe alike. Returns each probe's samples (ms), by name.
 */
export async function sampleRounds(
  probes: readonly Probe[],
  rounds: number,
  warmupRounds: number,
): Promise<Map<string, number[]>> {
  for (let i = 0; i < warmupRounds; i++) for (const p of probes) await p.call();
  for (const p of probes) p.check(await p.call());
  const samples = new Map<string, number[]>(probes.map((p) => [p.name, []]));
  for (let i = 0; i < rounds; i++) {
    for (const p of probes) {
      const t0 = process.hrtime.bigint();
      await p.call();
      samples.get(p.name)!.push(elapsedMs(t0, process.hrtime.bigint()));
    }
  }
  return samples;
}

/** "<name> p50" and "<name> p99" rows (ms) of each probe's samples. */
export function latencyMetrics(samples: ReadonlyMap<string, readonly number[]>, digits = 2): Metric[] {
  return [...samples].flatMap(([name, values]) => {
    const s = summarize(values);
    return [
      { name: `${name} p50`, unit: 'ms', value: s.p50, digits },
      { name: `${name} p99`, unit: 'ms', value: s.p99, digits },
    ];
  });
}

/** Throws unless actual is expected: a probe's count check. */
export function expectCount(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}
