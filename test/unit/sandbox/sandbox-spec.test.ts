import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceMode, PodSandboxConfig, Protocol } from '../../../src/api/gen/cri.js';
import { checkCgroupParent, checkSysctls, sandboxSpecOf } from '../../../src/sandbox/sandbox-spec.js';
import { bandwidthOf, parseBitRate } from '../../../src/sandbox/pod-network.js';
import { renderHosts, renderResolvConf } from '../../../src/sandbox/pod-files.js';

const ctx = { defaultRuntime: 'runc', runtimes: ['runc', 'crun'], cgroupDriver: 'cgroupfs' as const };

function config(overrides: Record<string, unknown> = {}): PodSandboxConfig {
  return PodSandboxConfig.fromJSON({
    metadata: { name: 'web', namespace: 'prod', uid: 'u-1', attempt: 2 },
    hostname: 'web',
    ...overrides,
  });
}

const invalid = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: Error & { code?: string }) => {
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    return true;
  });

describe('pod sandbox spec', () => {
  it('derives the reserved name, namespaces modes and the default runtime', () => {
    const spec = sandboxSpecOf(config(), '', ctx);
    assert.equal(spec.reservedName, 'web_prod_u-1_2');
    assert.equal(spec.runtimeHandler, 'runc');
    assert.equal(spec.hostNetwork, false);
    assert.equal(spec.pidMode, 'container');
    const host = sandboxSpecOf(
      config({
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.POD } } },
      }),
      'crun',
      ctx,
    );
    assert.equal(host.hostNetwork, true);
    assert.equal(host.pidMode, 'pod');
    assert.equal(host.runtimeHandler, 'crun');
  });

  it('refuses missing metadata, bad names and unknown handlers', () => {
    invalid(() => sandboxSpecOf(PodSandboxConfig.fromJSON({}), '', ctx), /needs metadata/);
    invalid(
      () => sandboxSpecOf(config({ metadata: { name: '', namespace: 'a', uid: 'b' } }), '', ctx),
      /name is required/,
    );
    invalid(
      () => sandboxSpecOf(config({ metadata: { name: 'a', namespace: '', uid: 'b' } }), '', ctx),
      /namespace is required/,
    );
    invalid(
      () => sandboxSpecOf(config({ metadata: { name: 'a', namespace: 'b', uid: '' } }), '', ctx),
      /uid is required/,
    );
    invalid(() => sandboxSpecOf(config({ metadata: { name: '../x', namespace: 'b', uid: 'c' } }), '', ctx), /must be/);
    invalid(() => sandboxSpecOf(config(), 'kata', ctx), /runtime handler "kata" is not configured/);
    invalid(() => sandboxSpecOf(config({ hostname: 'bad host' }), '', ctx), /hostname/);
    invalid(() => sandboxSpecOf(config({ logDirectory: 'relative' }), '', ctx), /absolute/);
  });

  it('keeps host ports only, checks port ranges and host IPs', () => {
    const spec = sandboxSpecOf(
      config({
        portMappings: [
          { protocol: Protocol.TCP, containerPort: 80, hostPort: 8080, hostIp: '' },
          { protocol: Protocol.UDP, containerPort: 53, hostPort: 0, hostIp: '' },
          { protocol: Protocol.SCTP, containerPort: 9, hostPort: 9, hostIp: '127.0.0.1' },
        ],
      }),
      '',
      ctx,
    );
    assert.deepEqual(spec.portMappings, [
      { protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' },
      { protocol: 'sctp', containerPort: 9, hostPort: 9, hostIp: '127.0.0.1' },
    ]);
    invalid(
      () => sandboxSpecOf(config({ portMappings: [{ containerPort: 70000, hostPort: 1 }] }), '', ctx),
      /ports must be 0-65535/,
    );
    invalid(
      () => sandboxSpecOf(config({ portMappings: [{ containerPort: 1, hostPort: 1, hostIp: 'nope' }] }), '', ctx),
      /host IP/,
    );
  });

  it('checks DNS config', () => {
    const spec = sandboxSpecOf(
      config({ dnsConfig: { servers: ['10.0.0.10'], searches: ['svc.local'], options: ['ndots:5'] } }),
      '',
      ctx,
    );
    assert.deepEqual(spec.dns, { servers: ['10.0.0.10'], searches: ['svc.local'], options: ['ndots:5'] });
    invalid(() => sandboxSpecOf(config({ dnsConfig: { servers: ['dns.example'] } }), '', ctx), /not an IP/);
    invalid(() => sandboxSpecOf(config({ dnsConfig: { searches: ['a b'] } }), '', ctx), /one word/);
  });

  it('allows only namespaced sysctls in namespaces the pod owns, single-line values', () => {
    assert.deepEqual(checkSysctls({ 'net/ipv4/ip_forward': '1', 'kernel.shm_rmid_forced': '1' }, false, false), {
      'net.ipv4.ip_forward': '1',
      'kernel.shm_rmid_forced': '1',
    });
    invalid(() => checkSysctls({ 'kernel.panic': '1' }, false, false), /not namespaced/);
    invalid(() => checkSysctls({ 'net.ipv4.ip_forward': '1' }, true, false), /hostNetwork/);
    invalid(() => checkSysctls({ 'kernel.msgmax': '1' }, false, true), /hostIPC/);
    invalid(() => checkSysctls({ 'kernel.hostname': 'x' }, true, false), /UTS/);
    invalid(() => checkSysctls({ 'net.ipv4.ip_forward': '1\nkernel.panic=1' }, false, false), /one line/);
    invalid(() => checkSysctls({ 'net..x': '1' }, false, false), /invalid/);
    invalid(() => checkSysctls({ '../../etc': '1' }, false, false), /invalid/);
  });

  it('checks cgroup parents per driver', () => {
    assert.equal(checkCgroupParent('/kubepods/burstable/pod1', 'cgroupfs'), '/kubepods/burstable/pod1');
    assert.equal(checkCgroupParent('kubepods-burstable-pod1.slice', 'systemd'), 'kubepods-burstable-pod1.slice');
    invalid(() => checkCgroupParent('kubepods', 'cgroupfs'), /absolute/);
    invalid(() => checkCgroupParent('/kubepods/../x', 'cgroupfs'), /absolute/);
    invalid(() => checkCgroupParent('/kubepods', 'systemd'), /\.slice/);
  });
});

describe('pod files and bandwidth', () => {
  it('renders /etc/hosts with the pod IPs and resolv.conf from DNSConfig', () => {
    const hosts = renderHosts('web', ['10.88.0.5', 'fd00::5']);
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, /^10\.88\.0\.5\tweb$/m);
    assert.match(hosts, /^fd00::5\tweb$/m);
    assert.equal(
      renderResolvConf({ servers: ['10.0.0.10', '10.0.0.11'], searches: ['a.local', 'b.local'], options: ['ndots:5'] }),
      'search a.local b.local\nnameserver 10.0.0.10\nnameserver 10.0.0.11\noptions ndots:5\n',
    );
    assert.equal(renderResolvConf({ servers: [], searches: [], options: [] }), '');
  });

  it('reads bandwidth annotations as kubelet writes them', () => {
    assert.equal(parseBitRate('10M'), 10_000_000);
    assert.equal(parseBitRate('1Gi'), 2 ** 30);
    assert.equal(parseBitRate('1.5k'), 1500);
    assert.equal(parseBitRate('fast'), undefined);
    assert.deepEqual(bandwidthOf({ 'kubernetes.io/ingress-bandwidth': '1M' }), {
      ingressRate: 1_000_000,
      ingressBurst: 2 ** 31 - 1,
    });
    assert.equal(bandwidthOf({}), undefined);
  });
});
