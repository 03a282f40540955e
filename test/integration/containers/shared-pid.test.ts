// A pod with a shared PID namespace (pid: POD): an init (catatonit) is PID 1, the pod's containers see each
// other's processes, and stopping the pod ends the namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ContainerConfig, NamespaceMode, PodSandboxConfig } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip =
  integrationSkipReason() ??
  (await registrySkipReason()) ??
  (existsSync('/usr/bin/catatonit') ? undefined : '/usr/bin/catatonit is missing (package catatonit)');

describe('shared PID namespace', { skip, timeout: 120_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });

  it('runs an init as PID 1 that the pod containers share, and ends it on stop', async () => {
    const rt = berthd.runtime();
    const image = `${registry.host}/berth-test/busybox:latest`;
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    const pod = PodSandboxConfig.fromJSON({
      metadata: { name: 'shared', namespace: 'test', uid: 'shared-uid' },
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
    });
    const { podSandboxId } = await unary(rt.runPodSandbox.bind(rt), { config: pod, runtimeHandler: '' }, 30_000);
    const st = await unary(rt.podSandboxStatus.bind(rt), { podSandboxId, verbose: true });
    const initPid = (JSON.parse(st.info['info'] ?? '{}') as { pid: number }).pid;
    assert.ok(initPid > 0, 'the pod reports its init pid');
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const config = ContainerConfig.fromJSON({
        metadata: { name },
        image: { image },
        command: ['/bin/sleep', name === 'a' ? '1001' : '1002'],
        linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
      });
      const { containerId } = await unary(
        rt.createContainer.bind(rt),
        { podSandboxId, config, sandboxConfig: pod },
        30_000,
      );
      await unary(rt.startContainer.bind(rt), { containerId });
      ids.push(containerId);
    }
    const exec = (cmd: string[]) =>
      unary(rt.execSync.bind(rt), { containerId: ids[0]!, cmd, timeout: 10n }).then((r) => r.stdout.toString());
    assert.equal((await exec(['/bin/cat', '/proc/1/comm'])).trim(), 'catatonit');
    const ps = await exec(['/bin/ps', '-o', 'args']);
    assert.match(ps, /sleep 1001/);
    assert.match(ps, /sleep 1002/, "container a sees container b's process");
    await unary(rt.stopPodSandbox.bind(rt), { podSandboxId }, 60_000);
    let isAlive = true;
    for (let i = 0; i < 50 && isAlive; i++) {
      isAlive = (await readFile(`/proc/${initPid}/comm`, 'utf8').catch(() => '')).trim() === 'catatonit';
      if (isAlive) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(isAlive, false, 'the init is gone after StopPodSandbox');
    await unary(rt.removePodSandbox.bind(rt), { podSandboxId }, 60_000);
  });
});
