// A kill -9 of berthd with containers in every state, and the restart that recovers them with one `runc list`
// instead of one `runc state` per container (issue #7: 400 containers took ~12 s to recover). runc is
// berthd's configured runtime through a wrapper that logs each argv, so the test sees what recovery asked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerConfig, ContainerState, PodSandboxConfig, PodSandboxState } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const RUNC = '/usr/sbin/runc';
const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('restart recovery', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let wrapperDir: string;
  let runcLog: string;
  let image: string;
  let podId: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    image = `${registry.host}/berth-test/busybox:latest`;
    wrapperDir = await mkdtemp(join(tmpdir(), 'berth-runc-log-'));
    runcLog = join(wrapperDir, 'argv.log');
    const wrapper = join(wrapperDir, 'runc');
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${runcLog}'\nexec ${RUNC} "$@"\n`);
    await chmod(wrapper, 0o755);
    berthd = await startBerthd({
      extraToml: `[plugins.cri.containerd.runtimes.runc]\nruntime_type = "oci"\nbinary = "${wrapper}"\n`,
    });
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    const rt = berthd.runtime();
    const config = PodSandboxConfig.fromJSON({
      metadata: { name: 'recovery-pod', namespace: 'test', uid: 'recovery-pod-uid', attempt: 0 },
      hostname: 'recovery-pod',
      logDirectory: join(berthd.dir, 'pod-logs'),
    });
    podId = (await unary(rt.runPodSandbox.bind(rt), { config, runtimeHandler: '' }, 30_000)).podSandboxId;
  });
  after(async () => {
    if (berthd !== undefined && podId !== undefined) {
      const rt = berthd.runtime();
      await unary(rt.removePodSandbox.bind(rt), { podSandboxId: podId }, 60_000).catch(() => undefined);
    }
    await berthd?.cleanup();
    await registry?.stop();
    if (wrapperDir !== undefined) await rm(wrapperDir, { recursive: true, force: true });
  });

  const rt = () => berthd.runtime();
  const create = (name: string) =>
    unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId: podId,
        config: ContainerConfig.fromJSON({
          metadata: { name },
          image: { image },
          command: ['/bin/sleep', '1000'],
          labels: { app: name, tier: 'recovery' },
        }),
        sandboxConfig: undefined,
      },
      60_000,
    ).then((r) => r.containerId);
  const start = (containerId: string) => unary(rt().startContainer.bind(rt()), { containerId }, 30_000);
  const statusOf = (containerId: string) =>
    unary(rt().containerStatus.bind(rt()), { containerId, verbose: false }).then((r) => r.status!);
  const runcCalls = async (): Promise<string[][]> =>
    (await readFile(runcLog, 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' '));

  it('issue #7: one runc list recovers running, created and vanished containers (no runc state each); the pod stays ready', async () => {
    const running: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await create(`running-${i}`);
      await start(id);
      running.push(id);
    }
    const created = await create('created');
    const vanished = await create('vanished');
    await start(vanished);

    await berthd.kill();
    // While berthd is down, the container goes without an exit file: its conmon dies first, then runc forgets it.
    const conmonPid = Number(await readFile(join(berthd.state, 'containers', vanished, 'conmon.pid'), 'utf8'));
    assert.ok(Number.isInteger(conmonPid) && conmonPid > 1, `conmon pid ${conmonPid}`);
    process.kill(conmonPid, 'SIGKILL');
    const del = spawnSync(RUNC, [`--root=${join(berthd.state, 'runc')}`, 'delete', '--force', vanished], {
      encoding: 'utf8',
    });
    assert.equal(del.status, 0, del.stderr);
    const callsBefore = (await runcCalls()).length;

    berthd = await restartBerthd(berthd);
    const recoveryCalls = (await runcCalls()).slice(callsBefore);
    assert.deepEqual(
      recoveryCalls.map((argv) => argv.slice(1)),
      [['list', '--format', 'json']],
      'recovery runs runc once, to list',
    );

    // The pod's pinned namespaces are found in the one mount table read of startup: it stays ready.
    const pod = await unary(rt().podSandboxStatus.bind(rt()), { podSandboxId: podId, verbose: false });
    assert.equal(pod.status?.state, PodSandboxState.SANDBOX_READY);
    for (const id of running) assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_RUNNING, id);
    assert.equal((await statusOf(created)).state, ContainerState.CONTAINER_CREATED);
    const gone = await statusOf(vanished);
    assert.equal(gone.state, ContainerState.CONTAINER_EXITED);
    assert.equal(gone.exitCode, 255);
    assert.match(gone.message, /disappeared while berthd was down/);

    // ListContainers filters (issue #7 reworked them) on the recovered set.
    const list = async (filter: { state?: ContainerState; labels?: Record<string, string> }) =>
      (
        await unary(rt().listContainers.bind(rt()), {
          filter: {
            id: '',
            podSandboxId: '',
            state: filter.state === undefined ? undefined : { state: filter.state },
            labelSelector: filter.labels ?? {},
          },
        })
      ).containers;
    assert.deepEqual(
      (await list({ state: ContainerState.CONTAINER_RUNNING })).map((c) => c.id).sort(),
      [...running].sort(),
    );
    assert.deepEqual(
      (await list({ labels: { app: 'running-1', tier: 'recovery' } })).map((c) => c.id),
      [running[1]],
    );
    assert.deepEqual(await list({ labels: { app: 'running-1', tier: 'other' } }), []);
    const all = await list({ labels: { tier: 'recovery' } });
    assert.equal(all.length, 5);
    for (const c of all) assert.equal(c.imageRef, (await statusOf(c.id)).imageRef, c.id);

    await start(created);
    assert.equal((await statusOf(created)).state, ContainerState.CONTAINER_RUNNING);
  });
});
