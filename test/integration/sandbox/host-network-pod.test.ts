// Pod sandboxes on the node's network (no CNI needed): pinned IPC and UTS-less pods, /dev/shm, sysctls inside the
// pod's IPC namespace, name reservation, status/list filters, idempotent stop/remove, nothing left behind, and a
// ready pod surviving a berthd restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { NamespaceMode, PodSandboxConfig, PodSandboxState } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';

const skip = integrationSkipReason();

function podConfig(name: string, extra: Record<string, unknown> = {}): PodSandboxConfig {
  return PodSandboxConfig.fromJSON({
    metadata: { name, namespace: 'test', uid: `uid-${name}`, attempt: 0 },
    hostname: '',
    labels: { app: name, tier: 'test' },
    annotations: { note: 'kept as given' },
    linux: {
      securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } },
      sysctls: { 'kernel.shm_rmid_forced': '1' },
    },
    ...extra,
  });
}

async function mountPoints(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
}

describe('host-network pod sandboxes', { skip, timeout: 120_000 }, () => {
  let berthd: Berthd;
  before(async () => {
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
  });
  const rt = () => berthd.runtime();
  const run = (config: PodSandboxConfig, runtimeHandler = '') =>
    unary(rt().runPodSandbox.bind(rt()), { config, runtimeHandler });
  const statusOf = (podSandboxId: string) => unary(rt().podSandboxStatus.bind(rt()), { podSandboxId, verbose: true });
  const list = (filter: Record<string, unknown> = {}) =>
    unary(rt().listPodSandbox.bind(rt()), {
      filter: { id: '', state: undefined, labelSelector: {}, ...filter },
    });

  it('runs a pod with its own IPC namespace, /dev/shm and sysctls, and reserves its name', async () => {
    const { podSandboxId: id } = await run(podConfig('alpha'));
    assert.match(id, /^[0-9a-f]{64}$/);
    const st = await statusOf(id);
    assert.equal(st.status?.state, PodSandboxState.SANDBOX_READY);
    assert.equal(st.status?.metadata?.name, 'alpha');
    assert.deepEqual(st.status?.annotations, { note: 'kept as given' });
    assert.equal(st.status?.linux?.namespaces?.options?.network, NamespaceMode.NODE);
    const info = JSON.parse(st.info['info'] ?? '{}') as {
      ipcNamespacePath: string;
      shm: string;
      netNamespacePath: string;
    };
    assert.equal(info.netNamespacePath, '', 'host network: no netns of its own');
    const mounts = await mountPoints();
    assert.ok(mounts.includes(info.ipcNamespacePath), 'IPC namespace pinned');
    assert.ok(mounts.includes(info.shm), '/dev/shm mounted');
    const inPod = execFileSync('/usr/bin/nsenter', [
      `--ipc=${info.ipcNamespacePath}`,
      'cat',
      '/proc/sys/kernel/shm_rmid_forced',
    ]);
    assert.equal(inPod.toString().trim(), '1', 'sysctl set inside the pod IPC namespace');
    const onHost = (await readFile('/proc/sys/kernel/shm_rmid_forced', 'utf8')).trim();
    assert.equal(onHost, '0', 'and not on the node');

    const dup = await unaryError(rt().runPodSandbox.bind(rt()), { config: podConfig('alpha'), runtimeHandler: '' });
    assert.equal(dup.code, status.ALREADY_EXISTS);
    assert.match(dup.details, /alpha_test_uid-alpha_0.*reserved by sandbox/);
  });

  it('refuses bad configs with INVALID_ARGUMENT and leaves nothing behind', async () => {
    const before = await readdir(join(berthd.state, 'sandboxes'));
    const bad = [
      podConfig('', {}),
      podConfig('beta', { linux: { sysctls: { 'kernel.panic': '1' } } }),
      podConfig('beta', { linux: { cgroupParent: 'relative/path' } }),
    ];
    for (const config of bad) {
      const err = await unaryError(rt().runPodSandbox.bind(rt()), { config, runtimeHandler: '' });
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    }
    const unknownHandler = await unaryError(rt().runPodSandbox.bind(rt()), {
      config: podConfig('beta'),
      runtimeHandler: 'kata',
    });
    assert.equal(unknownHandler.code, status.INVALID_ARGUMENT);
    assert.deepEqual(await readdir(join(berthd.state, 'sandboxes')), before);
  });

  it('lists with id prefix, state and label filters', async () => {
    const { podSandboxId: delta } = await run(podConfig('delta'));
    const all = await list();
    assert.equal(all.items.length, 2);
    assert.deepEqual(
      (await list({ labelSelector: { app: 'delta' } })).items.map((p) => p.id),
      [delta],
    );
    assert.deepEqual(
      (await list({ id: delta.slice(0, 12) })).items.map((p) => p.id),
      [delta],
    );
    await unary(rt().stopPodSandbox.bind(rt()), { podSandboxId: delta });
    const ready = await list({ state: { state: PodSandboxState.SANDBOX_READY } });
    assert.ok(ready.items.every((p) => p.id !== delta));
    const notReady = await list({ state: { state: PodSandboxState.SANDBOX_NOTREADY } });
    assert.deepEqual(
      notReady.items.map((p) => p.id),
      [delta],
    );
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: delta });
  });

  it('stop and remove are idempotent and leave no mount, file or record', async () => {
    const { podSandboxId: id } = await run(podConfig('epsilon'));
    const info = JSON.parse((await statusOf(id)).info['info'] ?? '{}') as { ipcNamespacePath: string; shm: string };
    await unary(rt().stopPodSandbox.bind(rt()), { podSandboxId: id });
    await unary(rt().stopPodSandbox.bind(rt()), { podSandboxId: id });
    const mounts = await mountPoints();
    assert.ok(!mounts.includes(info.ipcNamespacePath) && !mounts.includes(info.shm), 'namespaces released on stop');
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: id });
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: id });
    const missing = await unaryError(rt().podSandboxStatus.bind(rt()), { podSandboxId: id, verbose: false });
    assert.equal(missing.code, status.NOT_FOUND);
    assert.ok(!(await readdir(join(berthd.state, 'sandboxes'))).includes(id));
    assert.ok(!(await readdir(join(berthd.root, 'sandboxes'))).includes(id));
    const { podSandboxId: again } = await run(podConfig('epsilon'));
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: again });
  });

  it('keeps a ready pod across a berthd restart', async () => {
    const id = (await list({ labelSelector: { app: 'alpha' } })).items[0]!.id;
    await berthd.stop();
    berthd = await restartBerthd(berthd);
    const st = await statusOf(id);
    assert.equal(st.status?.state, PodSandboxState.SANDBOX_READY);
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: id });
    assert.equal(
      (await mountPoints()).filter((m) => m.startsWith(berthd.dir)).length,
      0,
      'no mount left under the test dir',
    );
  });
});
