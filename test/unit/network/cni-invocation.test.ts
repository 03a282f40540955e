import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from '../../../src/network/cni/config.js';
import {
  assertPodId,
  buildCniArgs,
  buildPluginEnv,
  buildPluginStdin,
  buildRuntimeConfig,
} from '../../../src/network/cni/invocation.js';
import type { CniPod } from '../../../src/network/cni/types.js';

const POD: CniPod = {
  id: 'a'.repeat(64),
  netnsPath: '/run/berth/netns/x',
  podName: 'web-0',
  podNamespace: 'shop',
  podUid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
};

const LIST = parseNetworkConfig(
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'net1',
    plugins: [
      { type: 'bridge', bridge: 'br0', runtimeConfig: { stale: true }, prevResult: { stale: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
      { type: 'dnsplugin', capabilities: { dns: true, portMappings: false } },
    ],
  }),
  'x.conflist',
);
const [BRIDGE, PORTMAP, BANDWIDTH, DNS] = LIST.plugins;

describe('CNI invocation', () => {
  it('builds CNI_ARGS the way kubelet-era runtimes do', () => {
    assert.equal(
      buildCniArgs(POD),
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${'a'.repeat(64)};K8S_POD_UID=1b4e28ba-2fa1-11d2-883f-0016d3cca427`,
    );
  });

  it('refuses CNI_ARGS values that would inject keys', () => {
    assert.throws(() => buildCniArgs({ ...POD, podName: 'x;K8S_POD_NAMESPACE=kube-system' }), {
      code: 'INVALID_ARGUMENT',
      message: /K8S_POD_NAME/,
    });
    assert.throws(() => buildCniArgs({ ...POD, podUid: 'a=b' }), { code: 'INVALID_ARGUMENT' });
  });

  it('checks pod ids (they name cache files)', () => {
    assertPodId('0123456789abcdef'.repeat(4));
    for (const bad of ['../x', 'A'.repeat(64), 'a'.repeat(63), '']) {
      assert.throws(() => assertPodId(bad), { code: 'INVALID_ARGUMENT' });
    }
  });

  it('sets exactly the CNI environment plus a PATH with the sbin dirs', () => {
    const env = buildPluginEnv({
      command: 'ADD',
      pod: POD,
      netnsPath: POD.netnsPath,
      ifName: 'eth0',
      binDirs: ['/opt/cni/bin', '/usr/lib/cni'],
    });
    assert.deepEqual(Object.keys(env).sort(), [
      'CNI_ARGS',
      'CNI_COMMAND',
      'CNI_CONTAINERID',
      'CNI_IFNAME',
      'CNI_NETNS',
      'CNI_PATH',
      'PATH',
    ]);
    assert.equal(env['CNI_COMMAND'], 'ADD');
    assert.equal(env['CNI_CONTAINERID'], POD.id);
    assert.equal(env['CNI_NETNS'], POD.netnsPath);
    assert.equal(env['CNI_IFNAME'], 'eth0');
    assert.equal(env['CNI_PATH'], '/opt/cni/bin:/usr/lib/cni');
    assert.match(env['PATH'] ?? '', /\/usr\/sbin/);
  });

  it('builds runtimeConfig only from declared capabilities the pod has data for', () => {
    const pod: CniPod = {
      ...POD,
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 0, containerPort: 9090, protocol: 'tcp' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
        { hostPort: 8443, containerPort: 443, protocol: 'sctp', hostIP: '' },
      ],
      bandwidth: { ingressRate: 1_000_000, ingressBurst: 2_000_000, egressRate: 3_000_000, egressBurst: 4_000_000 },
      dns: { servers: ['10.96.0.10'], searches: ['shop.svc.cluster.local'], options: ['ndots:5'] },
    };
    assert.deepEqual(buildRuntimeConfig(BRIDGE!, pod), {});
    assert.deepEqual(buildRuntimeConfig(PORTMAP!, pod), {
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
        { hostPort: 8443, containerPort: 443, protocol: 'sctp' },
      ],
    });
    assert.deepEqual(buildRuntimeConfig(BANDWIDTH!, pod), {
      bandwidth: { ingressRate: 1_000_000, ingressBurst: 2_000_000, egressRate: 3_000_000, egressBurst: 4_000_000 },
    });
    assert.deepEqual(buildRuntimeConfig(DNS!, pod), {
      dns: { servers: ['10.96.0.10'], searches: ['shop.svc.cluster.local'], options: ['ndots:5'] },
    });
    assert.deepEqual(buildRuntimeConfig(PORTMAP!, POD), {}, 'no mappings: no portMappings key');
    assert.deepEqual(
      buildRuntimeConfig(PORTMAP!, { ...POD, portMappings: [{ hostPort: 0, containerPort: 1, protocol: 'tcp' }] }),
      {},
    );
  });

  it('hands each plugin its config with the list name and version, prevResult and runtimeConfig', () => {
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] };
    const bridgeIn = JSON.parse(buildPluginStdin(LIST, BRIDGE!, POD, undefined)) as Record<string, unknown>;
    assert.deepEqual(bridgeIn, { type: 'bridge', bridge: 'br0', name: 'net1', cniVersion: '1.0.0' });
    const pod = { ...POD, portMappings: [{ hostPort: 81, containerPort: 80, protocol: 'tcp' as const }] };
    const portmapIn = JSON.parse(buildPluginStdin(LIST, PORTMAP!, pod, prev)) as Record<string, unknown>;
    assert.deepEqual(portmapIn, {
      type: 'portmap',
      capabilities: { portMappings: true },
      name: 'net1',
      cniVersion: '1.0.0',
      prevResult: prev,
      runtimeConfig: { portMappings: [{ hostPort: 81, containerPort: 80, protocol: 'tcp' }] },
    });
  });
});
