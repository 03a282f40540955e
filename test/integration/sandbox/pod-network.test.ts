// Pods on a CNI network (the real bridge, host-local and portmap plugins, a bridge and subnet of the test's own):
// the pod's IP, hostname, /etc files, sysctls in its netns, host ports, CNI DEL on stop, a failing plugin leaving
// nothing, the default conflist, and 100 runp/stopp/rmp cycles leaving no netns, mount, lease, rule, veth,
// directory or record behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { PodSandboxConfig, Protocol } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';

const CNI_DIR = '/usr/lib/cni';
const skip =
  integrationSkipReason() ??
  (['bridge', 'host-local', 'portmap', 'loopback'].every((p) => existsSync(join(CNI_DIR, p)))
    ? undefined
    : `CNI plugins missing in ${CNI_DIR} (package containernetworking-plugins)`);

function podConfig(name: string, extra: Record<string, unknown> = {}): PodSandboxConfig {
  return PodSandboxConfig.fromJSON({
    metadata: { name, namespace: 'net', uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    ...extra,
  });
}

const run = (file: string, args: string[]) => execFileSync(file, args, { encoding: 'utf8' });
const natRules = () => run('/usr/sbin/iptables-save', ['-t', 'nat']);
async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

describe('pods on a CNI network', { skip, timeout: 300_000 }, () => {
  let berthd: Berthd;
  before(async () => {
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
  });
  const rt = () => berthd.runtime();
  const runp = (config: PodSandboxConfig) =>
    unary(rt().runPodSandbox.bind(rt()), { config, runtimeHandler: '' }, 30_000);
  const stopp = (podSandboxId: string) => unary(rt().stopPodSandbox.bind(rt()), { podSandboxId }, 30_000);
  const rmp = (podSandboxId: string) => unary(rt().removePodSandbox.bind(rt()), { podSandboxId }, 30_000);
  const info = async (podSandboxId: string) => {
    const st = await unary(rt().podSandboxStatus.bind(rt()), { podSandboxId, verbose: true });
    return {
      status: st.status!,
      info: JSON.parse(st.info['info'] ?? '{}') as {
        netNamespacePath: string;
        utsNamespacePath: string;
        files: { hosts: string; resolvConf: string; hostname: string };
      },
    };
  };

  it('gives the pod an IP, its hostname and /etc files, sysctls in its netns, and host ports', async () => {
    const { podSandboxId: id } = await runp(
      podConfig('web', {
        dnsConfig: { servers: ['10.96.0.10'], searches: ['net.svc.cluster.local'], options: ['ndots:5'] },
        portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 18080, hostIp: '' }],
        linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } },
      }),
    );
    const { status: st, info: i } = await info(id);
    const ip = st.network?.ip ?? '';
    const prefix = berthd.network!.subnet.split('.').slice(0, 3).join('.');
    assert.ok(ip.startsWith(`${prefix}.`), `pod IP ${ip} is in ${berthd.network!.subnet}`);
    assert.match(
      run('/usr/bin/nsenter', [`--net=${i.netNamespacePath}`, '/usr/sbin/ip', '-o', '-4', 'addr']),
      new RegExp(`eth0\\s+inet ${ip.replaceAll('.', '\\.')}/24`),
    );
    assert.match(
      run('/usr/bin/nsenter', [`--net=${i.netNamespacePath}`, '/usr/sbin/ip', '-o', 'link', 'show', 'lo']),
      /UP/,
    );
    assert.equal(run('/usr/bin/nsenter', [`--uts=${i.utsNamespacePath}`, '/usr/bin/hostname']).trim(), 'web');
    assert.equal(
      run('/usr/bin/nsenter', [
        `--net=${i.netNamespacePath}`,
        '/bin/cat',
        '/proc/sys/net/ipv4/ip_unprivileged_port_start',
      ]).trim(),
      '0',
    );
    assert.match(await readFile(i.files.hosts, 'utf8'), new RegExp(`^${ip.replaceAll('.', '\\.')}\\tweb$`, 'm'));
    assert.equal(
      await readFile(i.files.resolvConf, 'utf8'),
      'search net.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    assert.ok(existsSync(join(berthd.network!.leaseDir, ip)), 'host-local holds the lease');
    assert.ok(natRules().includes(id), 'portmap rules name the pod');

    await stopp(id);
    assert.ok(!existsSync(join(berthd.network!.leaseDir, ip)), 'the lease is released on stop');
    assert.ok(!natRules().includes(id), 'portmap rules are gone on stop');
    assert.deepEqual(await mountsUnder(join(berthd.state, 'sandboxes', id)), []);
    await stopp(id);
    await rmp(id);
  });

  it('a failing plugin fails RunPodSandbox clearly and leaves nothing', async () => {
    const good = join(berthd.cniConfDir, '10-berth-test.conflist');
    const saved = await readFile(good, 'utf8');
    await writeFile(
      join(berthd.cniConfDir, '05-broken.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'broken',
        plugins: [
          { type: 'bridge', bridge: 'btbroken0', ipam: { type: 'host-local', ranges: [[{ subnet: 'not-a-subnet' }]] } },
        ],
      }),
    );
    try {
      const err = await unaryError(rt().runPodSandbox.bind(rt()), { config: podConfig('bad'), runtimeHandler: '' });
      assert.notEqual(err.code, status.OK);
      assert.match(err.details, /bridge|host-local|subnet/i);
      assert.deepEqual(await readdir(join(berthd.state, 'sandboxes')), []);
      assert.deepEqual(await mountsUnder(berthd.dir), []);
      const list = await unary(rt().listPodSandbox.bind(rt()), { filter: undefined });
      assert.deepEqual(list.items, []);
    } finally {
      await rm(join(berthd.cniConfDir, '05-broken.conflist'), { force: true });
      spawnSync('/usr/sbin/ip', ['link', 'del', 'btbroken0'], { stdio: 'ignore' });
    }
    assert.equal(await readFile(good, 'utf8'), saved);
  });

  it('leaves nothing after 100 runp, stopp, rmp cycles', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 100; n++) {
      const { podSandboxId: id } = await runp(
        podConfig(`cycle-${n}`, {
          portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 19000 + (n % 50), hostIp: '' }],
        }),
      );
      ids.push(id);
      await stopp(id);
      await rmp(id);
    }
    assert.deepEqual(await mountsUnder(berthd.dir), [], 'no netns, ipc, uts or shm mount');
    assert.deepEqual(await readdir(join(berthd.state, 'sandboxes')), [], 'no state dir');
    assert.deepEqual(await readdir(join(berthd.root, 'sandboxes')), [], 'no pod files');
    const leases = existsSync(berthd.network!.leaseDir) ? await readdir(berthd.network!.leaseDir) : [];
    assert.deepEqual(
      leases.filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)),
      [],
      'no host-local lease',
    );
    const nat = natRules();
    assert.deepEqual(
      ids.filter((id) => nat.includes(id)),
      [],
      'no iptables rule names a removed pod',
    );
    assert.equal(run('/usr/sbin/ip', ['-o', 'link', 'show', 'master', berthd.network!.bridge]).trim(), '', 'no veth');
    assert.deepEqual((await unary(rt().listPodSandbox.bind(rt()), { filter: undefined })).items, [], 'no record');
    assert.deepEqual(await readdir(join(berthd.root, 'cni', 'results')), [], 'no cached CNI result');
  });
});

describe('the default CNI config', { skip, timeout: 60_000 }, () => {
  it('is written when conf_dir is empty, with the configured subnet, and makes the network ready', async () => {
    const berthd = await startBerthd({ cni: 'empty', extraToml: '' });
    try {
      const files = await readdir(berthd.cniConfDir);
      assert.deepEqual(files, ['10-berth.conflist']);
      const conf = JSON.parse(await readFile(join(berthd.cniConfDir, files[0]!), 'utf8')) as {
        plugins: { type: string; bridge?: string; ipam?: unknown }[];
      };
      assert.deepEqual(
        conf.plugins.map((p) => p.type),
        ['bridge', 'portmap'],
      );
      assert.match(JSON.stringify(conf.plugins[0]?.ipam), /10\.88\.0\.0\/16/);
      const rt = berthd.runtime();
      const st = await unary(rt.status.bind(rt), { verbose: false });
      assert.equal(st.status?.conditions.find((c) => c.type === 'NetworkReady')?.status, true);
    } finally {
      await berthd.cleanup();
    }
  });
});
