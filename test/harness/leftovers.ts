/**
 * What a berthd left on the node that no pod or container it lists owns: bundle, runc state, exit and socket
 * dirs, pod dirs, cached CNI results, active snapshots, mounts under the test's dir, conmon processes, CNI
 * leases of pods that are not ready, and processes whose argv carries a marker (a failpoint script's sleep).
 * Fault tests assert it is empty after a failed RPC.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PodSandboxState } from '../../src/api/gen/cri.js';
import type { Berthd } from './berthd.js';
import { unary } from './grpc.js';

const HEX_ID = /^[0-9a-f]{64}$/;

/** Pids of processes with marker as one of their argv words. */
export async function processesWith(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (argv.split('\0').includes(marker)) out.push(Number(pid));
  }
  return out;
}

/** One line per leftover; [] when berthd's node state matches what it lists. */
export async function leftovers(berthd: Berthd, marker?: string): Promise<string[]> {
  const rt = berthd.runtime();
  const pods = (await unary(rt.listPodSandbox.bind(rt), { filter: undefined })).items;
  const podIds = new Set(pods.map((p) => p.id));
  const readyPods = new Set(pods.filter((p) => p.state === PodSandboxState.SANDBOX_READY).map((p) => p.id));
  const ctrIds = new Set((await unary(rt.listContainers.bind(rt), { filter: undefined })).containers.map((c) => c.id));
  const out: string[] = [];
  const only = async (dir: string, ids: ReadonlySet<string>, what: string): Promise<void> => {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const id = n.replace(/\.json$/, '');
      if (HEX_ID.test(id) && !ids.has(id)) out.push(`${what} ${join(dir, n)}`);
    }
  };
  await only(join(berthd.state, 'containers'), ctrIds, 'bundle dir');
  await only(join(berthd.state, 'runc'), ctrIds, 'runc state');
  await only(join(berthd.state, 'exits'), ctrIds, 'exit file');
  await only(join(berthd.state, 's'), ctrIds, 'attach socket dir');
  await only(join(berthd.state, 'sandboxes'), podIds, 'pod state dir');
  await only(join(berthd.root, 'sandboxes'), podIds, 'pod dir');
  await only(join(berthd.root, 'cni', 'results'), podIds, 'CNI result');

  for (const kind of ['overlayfs', 'native']) {
    const activeDir = join(berthd.root, 'snapshots', kind, 'active');
    for (const n of await readdir(activeDir).catch(() => [] as string[])) {
      const meta = await readFile(join(activeDir, n, 'meta.json'), 'utf8').catch(() => undefined);
      const key = meta === undefined ? undefined : (JSON.parse(meta) as { key: string }).key;
      if (key === undefined || !ctrIds.has(key)) out.push(`active snapshot ${join(activeDir, n)} (${key ?? '?'})`);
    }
    const tmp = await readdir(join(berthd.root, 'snapshots', kind, 'tmp')).catch(() => [] as string[]);
    for (const n of tmp) out.push(`snapshot tmp entry ${n}`);
  }

  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
  for (const m of mounts) {
    if (!m.startsWith(`${berthd.state}/`) && !m.startsWith(`${berthd.root}/`)) continue;
    const id = m.split('/').find((part) => HEX_ID.test(part));
    if (id === undefined || !(ctrIds.has(id) || podIds.has(id))) out.push(`mount ${m}`);
  }

  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const bundle = argv[argv.indexOf('-b') + 1] ?? '';
    const id = argv[argv.indexOf('-c') + 1] ?? '';
    if (argv[0]?.endsWith('conmon') && bundle.startsWith(`${berthd.state}/`) && !ctrIds.has(id)) {
      out.push(`conmon ${pid} for ${id}`);
    }
    if (marker !== undefined && argv.includes(marker)) out.push(`process ${pid}: ${argv.join(' ')}`);
  }

  const leaseDir = berthd.network?.leaseDir;
  for (const n of leaseDir === undefined ? [] : await readdir(leaseDir).catch(() => [] as string[])) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(n)) continue;
    const holder = (await readFile(join(leaseDir!, n), 'utf8')).split(/\s/)[0] ?? '';
    if (!readyPods.has(holder)) out.push(`CNI lease ${n} of ${holder}`);
  }
  return out;
}
