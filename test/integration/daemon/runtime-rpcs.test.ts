// The foundation RPCs against a real berthd: Version, Status, RuntimeConfig, UpdateRuntimeConfig, the
// admin namespaces, UNIMPLEMENTED for what has not landed, and the socket's permissions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { credentials } from '@grpc/grpc-js';
import { CgroupDriver, RuntimeServiceClient } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';
import { readPackageInfo } from '../../../src/base/version.js';

const skip = integrationSkipReason();

describe('foundation RPCs', { skip, timeout: 120_000 }, () => {
  let berthd: Berthd;
  before(async () => {
    berthd = await startBerthd({ cni: 'broken' });
  });
  after(async () => {
    await berthd?.cleanup();
  });

  it('Version names berth, its package version and CRI v1', async () => {
    const rt = berthd.runtime();
    const res = await unary(rt.version.bind(rt), { version: 'v1' });
    assert.equal(res.runtimeName, 'berth');
    assert.equal(res.runtimeVersion, readPackageInfo().version);
    assert.equal(res.runtimeApiVersion, 'v1');
    assert.equal(res.version, '0.1.0');
  });

  it('answers clients that send the socket path as :authority (crictl v1.26 does)', async () => {
    const rt = new RuntimeServiceClient(berthd.address, credentials.createInsecure(), {
      'grpc.default_authority': berthd.socketPath,
    });
    try {
      const res = await unary(rt.version.bind(rt), { version: 'v1' });
      assert.equal(res.runtimeName, 'berth');
    } finally {
      rt.close();
    }
  });

  it('serves on a 0660 socket', async () => {
    const st = await stat(berthd.socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('Status: RuntimeReady, and NetworkReady false with a reason while the CNI config is broken', async () => {
    const rt = berthd.runtime();
    const before = await unary(rt.status.bind(rt), { verbose: false });
    const conds = Object.fromEntries((before.status?.conditions ?? []).map((c) => [c.type, c]));
    assert.equal(conds['RuntimeReady']?.status, true, JSON.stringify(conds));
    assert.equal(conds['NetworkReady']?.status, false);
    assert.equal(conds['NetworkReady']?.reason, 'NetworkPluginNotReady');
    assert.match(conds['NetworkReady']?.message ?? '', /10-broken\.conflist/);
    assert.deepEqual(before.info, {}, 'info only with verbose');
    assert.deepEqual(
      before.runtimeHandlers.map((h) => h.name),
      ['', 'runc', 'crun'],
    );

    await rm(join(berthd.cniConfDir, '10-broken.conflist'));
    await writeFile(
      join(berthd.cniConfDir, '10-test.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'test', plugins: [{ type: 'loopback' }] }),
    );
    const afterConf = await unary(rt.status.bind(rt), { verbose: false });
    const net = afterConf.status?.conditions.find((c) => c.type === 'NetworkReady');
    assert.equal(net?.status, true);
    assert.equal(net?.reason, '');
  });

  it('Status verbose carries the effective config as JSON', async () => {
    const rt = berthd.runtime();
    const res = await unary(rt.status.bind(rt), { verbose: true });
    const config = JSON.parse(res.info['config'] ?? 'null') as { root: string; grpc: { address: string } };
    assert.equal(config.root, berthd.root);
    assert.equal(config.grpc.address, berthd.socketPath);
  });

  it('RuntimeConfig reports the configured cgroup driver', async () => {
    const rt = berthd.runtime();
    const res = await unary(rt.runtimeConfig.bind(rt), {});
    assert.equal(res.linux?.cgroupDriver, CgroupDriver.CGROUPFS);
  });

  it('UpdateRuntimeConfig keeps the pod CIDR and rejects a bad one', async () => {
    const rt = berthd.runtime();
    await unary(rt.updateRuntimeConfig.bind(rt), {
      runtimeConfig: { networkConfig: { podCidr: '10.244.1.0/24,fd00:1::/64' } },
    });
    const res = await unary(rt.status.bind(rt), { verbose: true });
    assert.deepEqual(JSON.parse(res.info['podCIDRs'] ?? '[]'), ['10.244.1.0/24', 'fd00:1::/64']);

    const err = await unaryError(rt.updateRuntimeConfig.bind(rt), {
      runtimeConfig: { networkConfig: { podCidr: '10.244.1.0/33' } },
    });
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, /10\.244\.1\.0\/33/);
  });

  it('answers UNIMPLEMENTED, naming the RPC, for what has not landed', async () => {
    const rt = berthd.runtime();
    const err = await unaryError(rt.checkpointContainer.bind(rt), {
      containerId: 'x',
      location: '/tmp/x',
      timeout: 0n,
    });
    assert.equal(err.code, status.UNIMPLEMENTED);
    assert.match(err.details, /RuntimeService\.CheckpointContainer/);
    const err2 = await unaryError(rt.listMetricDescriptors.bind(rt), {});
    assert.equal(err2.code, status.UNIMPLEMENTED);
    assert.match(err2.details, /RuntimeService\.ListMetricDescriptors/);
  });

  it('admin namespaces: built-ins exist, create and remove work, built-ins stay', async () => {
    const admin = berthd.admin();
    const list = await unary(admin.listNamespaces.bind(admin), {});
    assert.deepEqual(list.namespaces.map((n) => n.name).sort(), ['default', 'k8s.io', 'moby']);
    await unary(admin.createNamespace.bind(admin), { name: 'team-a', labels: { owner: 'ops' } });
    const dup = await unaryError(admin.createNamespace.bind(admin), { name: 'team-a', labels: {} });
    assert.equal(dup.code, status.ALREADY_EXISTS);
    const bad = await unaryError(admin.createNamespace.bind(admin), { name: '../etc', labels: {} });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    await unary(admin.deleteNamespace.bind(admin), { name: 'team-a' });
    const gone = await unaryError(admin.deleteNamespace.bind(admin), { name: 'team-a' });
    assert.equal(gone.code, status.NOT_FOUND);
    const builtin = await unaryError(admin.deleteNamespace.bind(admin), { name: 'k8s.io' });
    assert.equal(builtin.code, status.FAILED_PRECONDITION);
  });

  it('keeps the pod CIDR and namespaces across a restart', async () => {
    const admin = berthd.admin();
    await unary(admin.createNamespace.bind(admin), { name: 'survivor', labels: {} });
    assert.equal(await berthd.stop(), 0);
    berthd = await restartBerthd(berthd);
    const rt = berthd.runtime();
    const res = await unary(rt.status.bind(rt), { verbose: true });
    assert.deepEqual(JSON.parse(res.info['podCIDRs'] ?? '[]'), ['10.244.1.0/24', 'fd00:1::/64']);
    const admin2 = berthd.admin();
    const list = await unary(admin2.listNamespaces.bind(admin2), {});
    assert.ok(list.namespaces.some((n) => n.name === 'survivor'));
  });
});
