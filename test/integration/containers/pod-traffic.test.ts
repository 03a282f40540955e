// Traffic between pods on the test's own bridge: a server container in one pod answers a client container in
// another by pod IP, and answers on 127.0.0.1 through its pod's hostPort (portmap). All traffic stays on this
// machine: loopback, the test bridge and the pods' namespaces.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rmdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { ContainerConfig, PodSandboxConfig, Protocol } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const HOST_PORT = 18531;

function readFromPort(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
  });
}

describe('traffic between pods', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    image = `${registry.host}/berth-test/busybox:latest`;
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
  });
  after(async () => {
    const rt = berthd?.runtime();
    if (rt !== undefined) {
      for (const p of (await unary(rt.listPodSandbox.bind(rt), { filter: undefined })).items) {
        await unary(rt.removePodSandbox.bind(rt), { podSandboxId: p.id }, 60_000).catch(() => undefined);
      }
    }
    await berthd?.cleanup();
    await registry?.stop();
  });

  async function runPod(name: string, command: string[], portMappings: unknown[] = []) {
    const rt = berthd.runtime();
    const pod = PodSandboxConfig.fromJSON({
      metadata: { name, namespace: 'test', uid: `${name}-uid` },
      hostname: name,
      portMappings,
    });
    const { podSandboxId } = await unary(rt.runPodSandbox.bind(rt), { config: pod, runtimeHandler: '' }, 30_000);
    const config = ContainerConfig.fromJSON({ metadata: { name }, image: { image }, command });
    const { containerId } = await unary(
      rt.createContainer.bind(rt),
      { podSandboxId, config, sandboxConfig: pod },
      30_000,
    );
    await unary(rt.startContainer.bind(rt), { containerId });
    const st = await unary(rt.podSandboxStatus.bind(rt), { podSandboxId, verbose: false });
    return { podSandboxId, containerId, ip: st.status?.network?.ip ?? '' };
  }

  it('a pod reaches another by IP, and the host reaches it through its hostPort on 127.0.0.1', async () => {
    const server = await runPod(
      'server',
      ['/bin/nc', '-ll', '-p', '8080', '-e', '/bin/echo', 'hello from the server pod'],
      [{ protocol: Protocol.TCP, containerPort: 8080, hostPort: HOST_PORT, hostIp: '' }],
    );
    const client = await runPod('client', ['/bin/sleep', '1000']);
    assert.notEqual(server.ip, '');
    assert.notEqual(server.ip, client.ip);
    const rt = berthd.runtime();
    let answer = '';
    for (let i = 0; i < 30 && !answer.includes('hello'); i++) {
      const res = await unary(rt.execSync.bind(rt), {
        containerId: client.containerId,
        cmd: ['/bin/nc', '-w', '2', server.ip, '8080'],
        timeout: 5n,
      });
      answer = res.stdout.toString();
      if (!answer.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(answer.trim(), 'hello from the server pod', 'pod to pod by IP');
    assert.equal((await readFromPort(HOST_PORT)).trim(), 'hello from the server pod', 'host port on 127.0.0.1');

    const stats = await unary(rt.podSandboxStats.bind(rt), { podSandboxId: server.podSandboxId });
    const linux = stats.stats?.linux;
    assert.equal(linux?.containers.length, 1);
    assert.equal(linux?.network?.defaultInterface?.name, 'eth0');
    assert.ok((linux?.network?.defaultInterface?.rxBytes?.value ?? 0n) > 0n, 'traffic counted on eth0');
    assert.ok((linux?.memory?.workingSetBytes?.value ?? 0n) > 0n);
    const all = await unary(rt.listPodSandboxStats.bind(rt), { filter: undefined });
    assert.equal(all.stats.length, 2);
  });

  it("places the pod's containers under its cgroup_parent (cgroupfs driver)", async () => {
    const parent = `/berth-test-parent-${process.pid}`;
    const rt = berthd.runtime();
    const pod = PodSandboxConfig.fromJSON({
      metadata: { name: 'cg', namespace: 'test', uid: 'cg-uid' },
      linux: { cgroupParent: parent },
    });
    const { podSandboxId } = await unary(rt.runPodSandbox.bind(rt), { config: pod, runtimeHandler: '' }, 30_000);
    const config = ContainerConfig.fromJSON({
      metadata: { name: 'cg' },
      image: { image },
      command: ['/bin/sleep', '1000'],
    });
    const { containerId } = await unary(
      rt.createContainer.bind(rt),
      { podSandboxId, config, sandboxConfig: pod },
      30_000,
    );
    await unary(rt.startContainer.bind(rt), { containerId });
    const st = await unary(rt.containerStatus.bind(rt), { containerId, verbose: true });
    const pid = (JSON.parse(st.info['info'] ?? '{}') as { pid: number }).pid;
    const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8');
    // v1: the memory controller line; pure v2: the one unified line.
    assert.match(cgroups, new RegExp(`(:memory:|^0::)${parent}/${containerId}$`, 'm'));
    await unary(rt.removePodSandbox.bind(rt), { podSandboxId }, 60_000);
    for (const ctrl of ['memory', 'cpu,cpuacct', 'pids', 'blkio', 'cpuset', 'devices', 'freezer']) {
      await rmdir(`/sys/fs/cgroup/${ctrl}${parent}`).catch(() => undefined);
    }
  });
});
