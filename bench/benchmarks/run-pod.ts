/**
 * RunPodSandbox latency: 50 pods run one after another on a CNI bridge network (the real bridge, host-local,
 * portmap and loopback plugins, a bridge and subnet of the benchmark's own), each timed from request to answer;
 * then all are stopped and removed (not timed). containerd runs its pause image (built here from the host's static
 * catatonit and imported with ctr, as no registry is reachable); Berth pins namespaces without one.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PodSandboxConfig } from '../../src/api/gen/cri.js';
import { buildOneLayerArchive } from '../../src/cli/demo-image.js';
import type { Benchmark, Metric } from '../benchmark.js';
import { withDaemon } from '../benchmark.js';
import { CriClient } from '../cri-client.js';
import { waitReady } from '../daemons.js';
import { summarize } from '../stats.js';

const execFileAsync = promisify(execFile);
const PODS = 50;
const CTR_BIN = '/usr/bin/ctr';
const CATATONIT = '/usr/bin/catatonit';
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.6';

export function benchNetwork(): { conflist: unknown; bridge: string; name: string } {
  const suffix = randomInt(0x1000, 0xffff).toString(16);
  const name = `berth-bench-${suffix}`;
  const bridge = `bb${suffix}`;
  const subnet = `10.251.${randomInt(0, 256)}.0/24`;
  return {
    name,
    bridge,
    conflist: {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
  };
}

export async function importPause(dir: string): Promise<void> {
  const archive = await buildOneLayerArchive(
    PAUSE_IMAGE,
    [{ name: 'pause', mode: 0o755, body: await readFile(CATATONIT) }],
    { Entrypoint: ['/pause', '-P'], User: '65535:65535' },
  );
  const file = join(dir, 'pause.tar');
  await writeFile(file, archive);
  await execFileAsync(CTR_BIN, ['--address', join(dir, 'containerd.sock'), '-n', 'k8s.io', 'images', 'import', file]);
}

export const runPod: Benchmark = {
  name: 'run-pod',
  description: `RunPodSandbox latency of ${PODS} pods in a row on a CNI bridge network (p50, p99)`,
  async run(ctx): Promise<Metric[]> {
    const net = benchNetwork();
    try {
      const samplesMs = await withDaemon(
        ctx,
        async (daemon) => {
          await waitReady(daemon);
          if (daemon.name === 'containerd') await importPause(daemon.dir);
          const client = new CriClient(daemon.endpoint);
          const ids: string[] = [];
          const times: number[] = [];
          try {
            for (let i = 0; i < PODS; i++) {
              const config = PodSandboxConfig.fromJSON({
                metadata: { name: `bench-${i}`, namespace: 'bench', uid: `bench-uid-${i}`, attempt: 0 },
                hostname: `bench-${i}`,
                logDirectory: join(daemon.dir, 'logs', String(i)),
                linux: {},
              });
              const t0 = process.hrtime.bigint();
              ids.push(await client.runPodSandbox(config, { deadlineMs: 60_000 }));
              times.push(Number(process.hrtime.bigint() - t0) / 1e6);
            }
          } finally {
            for (const id of ids) await client.removePodSandbox(id).catch(() => undefined);
            client.close();
          }
          return times;
        },
        { cniConflist: net.conflist },
      );
      ctx.log(`run-pod ${ctx.driver.name}: median ${summarize(samplesMs).p50.toFixed(1)} ms`);
      const s = summarize(samplesMs);
      return [
        { name: 'p50', unit: 'ms', value: s.p50, digits: 1 },
        { name: 'p99', unit: 'ms', value: s.p99, digits: 1 },
      ];
    } finally {
      spawnSync('/usr/sbin/ip', ['link', 'del', net.bridge], { stdio: 'ignore' });
      await rm(join('/var/lib/cni/networks', net.name), { recursive: true, force: true });
    }
  },
};
