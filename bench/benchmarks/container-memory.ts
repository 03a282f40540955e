/**
 * Memory per container: 20 pods with one `sleep` container each (busybox from a local registry, pods on a CNI
 * bridge), then the proportional set size (PSS, from /proc/PID/smaps_rollup, so shared libraries are split
 * fairly) of the daemon and of every per-container monitor: Berth's conmon processes, containerd's
 * containerd-shim-runc-v2 (one per pod). containerd also runs a pause process per pod, reported apart.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerConfig, PodSandboxConfig } from '../../src/api/gen/cri.js';
import { startRegistry } from '../../test/harness/registry.js';
import { buildTestImages } from '../../test/harness/test-images.js';
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { CriClient } from '../cri-client.js';
import { waitReady } from '../daemons.js';
import { benchNetwork, importPause } from './run-pod.js';

const PODS = 20;

async function pssKiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  return Number(/^Pss:\s+(\d+) kB$/m.exec(text)?.[1] ?? 0);
}

/** Pids whose command line contains every needle. */
async function pidsWith(...needles: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (needles.every((n) => cmd.includes(n))) out.push(Number(name));
  }
  return out;
}

export const containerMemory: Benchmark = {
  name: 'container-memory',
  description: `PSS of the daemon and of its per-container monitors with ${PODS} one-container pods running`,
  async run(ctx): Promise<Metric[]> {
    const registry = await startRegistry();
    const net = benchNetwork();
    try {
      await buildTestImages(registry);
      const image = `${registry.host}/berth-test/busybox:latest`;
      return await withDaemon(
        ctx,
        async (daemon) => {
          await waitReady(daemon);
          if (daemon.name === 'containerd') await importPause(daemon.dir);
          const client = new CriClient(daemon.endpoint);
          const pods: string[] = [];
          try {
            await client.pullImage(image, { deadlineMs: 120_000 });
            for (let i = 0; i < PODS; i++) {
              const pod = PodSandboxConfig.fromJSON({
                metadata: { name: `mem-${i}`, namespace: 'bench', uid: `mem-uid-${i}` },
                logDirectory: join(daemon.dir, 'logs', String(i)),
                linux: {},
              });
              const podId = await client.runPodSandbox(pod, { deadlineMs: 60_000 });
              pods.push(podId);
              const config = ContainerConfig.fromJSON({
                metadata: { name: 'sleep' },
                image: { image },
                command: ['/bin/sleep', '3600'],
                logPath: 'sleep.log',
              });
              await client.runContainer(podId, config, pod);
            }
            await new Promise((r) => setTimeout(r, 2000));
            const daemonKiB = await pssKiB(daemon.pid);
            const monitors =
              daemon.name === 'berth'
                ? await pidsWith('conmon', daemon.dir)
                : await pidsWith('containerd-shim-runc-v2', daemon.dir);
            const monitorKiB = (await Promise.all(monitors.map(pssKiB))).reduce((a, b) => a + b, 0);
            const pauseKiB =
              daemon.name === 'containerd'
                ? (await Promise.all((await pidsWith('/pause', '-P')).map(pssKiB))).reduce((a, b) => a + b, 0)
                : 0;
            ctx.log(
              `container-memory ${daemon.name}: daemon ${(daemonKiB / 1024).toFixed(1)} MiB, ${monitors.length} monitors ${(monitorKiB / 1024).toFixed(1)} MiB, pause ${(pauseKiB / 1024).toFixed(1)} MiB`,
            );
            return [
              { name: 'daemon', unit: 'MiB', value: daemonKiB / 1024, digits: 1 },
              { name: 'monitors', unit: 'MiB', value: monitorKiB / 1024, digits: 1 },
              { name: 'per container', unit: 'MiB', value: (monitorKiB + pauseKiB) / 1024 / PODS, digits: 2 },
              { name: 'total', unit: 'MiB', value: (daemonKiB + monitorKiB + pauseKiB) / 1024, digits: 1 },
            ];
          } finally {
            for (const id of pods) await client.removePodSandbox(id).catch(() => undefined);
            client.close();
          }
        },
        { cniConflist: net.conflist, registryHosts: [registry.host] },
      );
    } finally {
      await registry.stop();
      spawnSync('/usr/sbin/ip', ['link', 'del', net.bridge], { stdio: 'ignore' });
      await rm(join('/var/lib/cni/networks', net.name), { recursive: true, force: true });
    }
  },
};
