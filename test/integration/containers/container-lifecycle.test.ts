// Containers for real: images from a local registry, pods on the test's own CNI network, runc under conmon.
// Create/start/exit with logs, ExecSync (exit codes, deadline, output cap), stop with a grace period, the image
// user, name reservation, log reopen, pod stop/remove taking the containers along, and a berthd restart that
// keeps running containers and notices exits that happened while it was down.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rename, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  ContainerConfig,
  ContainerEventType,
  ContainerState,
  LinuxContainerResources,
  PodSandboxConfig,
} from '../../../src/api/gen/cri.js';
import { integrationSkipReason, restartBerthd, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import { waitFor } from '../../harness/wait.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

describe('container lifecycle', { skip, timeout: 300_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let userImage: string;
  let podId: string;
  let logDir: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    image = `${registry.host}/berth-test/busybox:latest`;
    userImage = `${registry.host}/berth-test/busybox-user:latest`;
    for (const ref of [image, userImage]) {
      const img = berthd.image();
      const spec = { image: ref, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
      await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    }
    logDir = join(berthd.dir, 'pod-logs');
    const rt = berthd.runtime();
    const config = PodSandboxConfig.fromJSON({
      metadata: { name: 'ctr-pod', namespace: 'test', uid: 'ctr-pod-uid', attempt: 0 },
      hostname: 'ctr-pod',
      logDirectory: logDir,
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
  });

  const rt = () => berthd.runtime();
  const create = (name: string, extra: Record<string, unknown> = {}) =>
    unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId: podId,
        config: ContainerConfig.fromJSON({ metadata: { name }, image: { image }, logPath: `${name}.log`, ...extra }),
        sandboxConfig: undefined,
      },
      60_000,
    ).then((r) => r.containerId);
  const start = (containerId: string) => unary(rt().startContainer.bind(rt()), { containerId }, 30_000);
  const statusOf = (containerId: string) =>
    unary(rt().containerStatus.bind(rt()), { containerId, verbose: false }).then((r) => r.status!);
  const exec = (containerId: string, cmd: string[], timeout = 10n) =>
    unary(rt().execSync.bind(rt()), { containerId, cmd, timeout }, 60_000);
  const exited = (id: string) =>
    waitFor(`container ${id} to exit`, async () => {
      const st = await statusOf(id);
      return st.state === ContainerState.CONTAINER_EXITED ? st : undefined;
    });

  it('runs a command, records its exit code and writes CRI log lines', async () => {
    const id = await create('once', { command: ['/bin/sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 3'] });
    assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_CREATED);
    await start(id);
    const st = await exited(id);
    assert.equal(st.exitCode, 3);
    assert.equal(st.reason, 'Error');
    assert.ok(st.startedAt > 0n && st.finishedAt >= st.startedAt);
    assert.equal(st.logPath, join(logDir, 'once.log'));
    const log = await readFile(st.logPath, 'utf8');
    assert.match(log, /^\S+ stdout F to-stdout$/m);
    assert.match(log, /^\S+ stderr F to-stderr$/m);
    const again = await unaryError(rt().startContainer.bind(rt()), { containerId: id });
    assert.equal(again.code, status.FAILED_PRECONDITION);
  });

  it('streams created, started, stopped and deleted events with the pod status (GetContainerEvents)', async () => {
    const client = rt();
    const stream = client.getContainerEvents({});
    const seen: { id: string; type: number; pod: string | undefined }[] = [];
    stream.on('data', (e: { containerId: string; containerEventType: number; podSandboxStatus?: { id: string } }) =>
      seen.push({ id: e.containerId, type: e.containerEventType, pod: e.podSandboxStatus?.id }),
    );
    stream.on('error', () => undefined);
    await once(stream, 'metadata'); // sent once berthd has subscribed the stream: no event below is missed
    const id = await create('evented', { command: ['/bin/sh', '-c', 'exit 0'] });
    await start(id);
    await exited(id);
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
    await waitFor('four events', async () => (seen.filter((e) => e.id === id).length >= 4 ? true : undefined));
    stream.cancel();
    const mine = seen.filter((e) => e.id === id);
    assert.deepEqual(
      mine.map((e) => e.type),
      [
        ContainerEventType.CONTAINER_CREATED_EVENT,
        ContainerEventType.CONTAINER_STARTED_EVENT,
        ContainerEventType.CONTAINER_STOPPED_EVENT,
        ContainerEventType.CONTAINER_DELETED_EVENT,
      ],
    );
    assert.equal(mine[0]?.pod, podId);
  });

  it('reserves names and refuses unknown images', async () => {
    const dup = await unaryError(rt().createContainer.bind(rt()), {
      podSandboxId: podId,
      config: ContainerConfig.fromJSON({ metadata: { name: 'once' }, image: { image }, command: ['true'] }),
      sandboxConfig: undefined,
    });
    assert.equal(dup.code, status.ALREADY_EXISTS);
    const missing = await unaryError(rt().createContainer.bind(rt()), {
      podSandboxId: podId,
      config: ContainerConfig.fromJSON({ metadata: { name: 'nope' }, image: { image: 'no/such:image' } }),
      sandboxConfig: undefined,
    });
    assert.equal(missing.code, status.NOT_FOUND);
  });

  it('execs: output, exit codes, the deadline and the output cap', async () => {
    const id = await create('sleeper', { command: ['/bin/sleep', '1000'] });
    await start(id);
    const ok = await exec(id, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(ok.stdout.toString(), 'out\n');
    assert.equal(ok.stderr.toString(), 'err\n');
    assert.equal(ok.exitCode, 7);
    const host = await exec(id, ['/bin/cat', '/etc/hostname']);
    assert.equal(host.stdout.toString().trim(), 'ctr-pod');
    const slow = await unaryError(rt().execSync.bind(rt()), {
      containerId: id,
      cmd: ['/bin/sleep', '30'],
      timeout: 1n,
    });
    assert.equal(slow.code, status.DEADLINE_EXCEEDED);
    const big = await exec(id, ['/bin/sh', '-c', 'head -c 20971520 /dev/zero'], 60n);
    assert.equal(big.stdout.length, 16 * 1024 * 1024 - 64 * 1024, 'capped to fit a 16 MiB message');
    assert.equal(big.exitCode, 0);
  });

  it('runs as the image user', async () => {
    const id = await unary(rt().createContainer.bind(rt()), {
      podSandboxId: podId,
      config: ContainerConfig.fromJSON({
        metadata: { name: 'user' },
        image: { image: userImage },
        command: ['/bin/sleep', '1000'],
      }),
      sandboxConfig: undefined,
    }).then((r) => r.containerId);
    await start(id);
    assert.equal((await exec(id, ['/bin/id', '-u'])).stdout.toString().trim(), '1000');
    assert.equal((await exec(id, ['/bin/id', '-G'])).stdout.toString().trim(), '1000 3000');
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
  });

  it('stops with SIGKILL after the grace period when the stop signal is ignored', async () => {
    const id = (await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers.find(
      (c) => c.metadata?.name === 'sleeper',
    )!.id;
    const t0 = Date.now();
    await unary(rt().stopContainer.bind(rt()), { containerId: id, timeout: 1n }, 30_000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 900, `waited the grace period (${elapsed} ms)`);
    const st = await statusOf(id);
    assert.equal(st.state, ContainerState.CONTAINER_EXITED);
    assert.equal(st.exitCode, 137);
    await unary(rt().stopContainer.bind(rt()), { containerId: id, timeout: 0n });
  });

  it('reopens the log after a rotation', async () => {
    const id = await create('talker', { command: ['/bin/sh', '-c', 'while true; do echo tick; sleep 0.2; done'] });
    await start(id);
    const path = join(logDir, 'talker.log');
    await waitFor('first lines', async () => ((await readFile(path, 'utf8')).includes('tick') ? true : undefined));
    await rename(path, `${path}.1`);
    await unary(rt().reopenContainerLog.bind(rt()), { containerId: id });
    await waitFor('lines in the new file', async () =>
      existsSync(path) && (await readFile(path, 'utf8')).includes('tick') ? true : undefined,
    );
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
  });

  it('reports CPU, memory and writable-layer usage', async () => {
    const id = await create('busy', {
      command: ['/bin/sh', '-c', 'dd if=/dev/zero of=/blob bs=1024 count=2048 2>/dev/null; while :; do :; done'],
    });
    await start(id);
    await new Promise((r) => setTimeout(r, 500));
    const first = (await unary(rt().containerStats.bind(rt()), { containerId: id })).stats!;
    await new Promise((r) => setTimeout(r, 500));
    const list = await unary(rt().listContainerStats.bind(rt()), {
      filter: { id: id.slice(0, 12), podSandboxId: '', labelSelector: {} },
    });
    assert.equal(list.stats.length, 1);
    const second = list.stats[0]!;
    assert.equal(second.attributes?.id, id);
    assert.ok((first.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'CPU time used');
    assert.ok((second.cpu?.usageCoreNanoSeconds?.value ?? 0n) > (first.cpu?.usageCoreNanoSeconds?.value ?? 0n));
    assert.ok((second.cpu?.usageNanoCores?.value ?? 0n) > 100_000_000n, 'a busy loop uses a good part of a core');
    assert.ok((second.memory?.workingSetBytes?.value ?? 0n) > 0n);
    assert.ok(
      (second.writableLayer?.usedBytes?.value ?? 0n) >= 2n * 1024n * 1024n,
      'the 2 MiB file is in the writable layer',
    );
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
  });

  it('reports OOMKilled for a container past its memory limit', async () => {
    const id = await create('hog', {
      command: ['/bin/tail', '/dev/zero'],
      linux: { resources: { memoryLimitInBytes: 16 * 1024 * 1024 } },
    });
    await start(id);
    const st = await exited(id);
    assert.equal(st.reason, 'OOMKilled');
    assert.equal(st.exitCode, 137);
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
  });

  it('updates the resources of a running container', async () => {
    const id = await create('resized', { command: ['/bin/sleep', '1000'] });
    await start(id);
    await unary(rt().updateContainerResources.bind(rt()), {
      containerId: id,
      linux: LinuxContainerResources.fromJSON({ memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 256 }),
      windows: undefined,
      annotations: {},
    });
    const v1 = `/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`;
    const v2 = `/sys/fs/cgroup/berth/${id}/memory.max`;
    const limit = await readFile(v1, 'utf8').catch(() => readFile(v2, 'utf8'));
    assert.equal(limit.trim(), String(64 * 1024 * 1024));
    const st = await unary(rt().containerStatus.bind(rt()), { containerId: id, verbose: false });
    assert.equal(st.status?.resources?.linux?.memoryLimitInBytes, BigInt(64 * 1024 * 1024));
    await unary(rt().removeContainer.bind(rt()), { containerId: id }, 30_000);
  });

  it('keeps 10 containers across a kill -9 of berthd and sees the one that exited meanwhile', async () => {
    const runners: string[] = [];
    for (let i = 0; i < 9; i++) {
      const id = await create(`survivor-${i}`, { command: ['/bin/sleep', '1000'] });
      await start(id);
      runners.push(id);
    }
    const quitter = await create('quitter', { command: ['/bin/sh', '-c', 'sleep 2; exit 5'] });
    await start(quitter);
    await berthd.kill();
    await new Promise((r) => setTimeout(r, 3000));
    berthd = await restartBerthd(berthd);
    for (const id of runners) assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_RUNNING, id);
    assert.equal((await exec(runners[0]!, ['/bin/echo', 'alive'])).stdout.toString(), 'alive\n');
    const q = await statusOf(quitter);
    assert.equal(q.state, ContainerState.CONTAINER_EXITED);
    assert.equal(q.exitCode, 5);
    assert.ok(q.finishedAt > q.startedAt, 'the real finish time, from the exit file');
  });

  it('removing the pod stops and removes its containers and leaves no mount or state', async () => {
    const before = (await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers;
    assert.ok(before.length >= 3);
    await unary(rt().stopPodSandbox.bind(rt()), { podSandboxId: podId }, 60_000);
    const stopped = (await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers;
    assert.ok(stopped.every((c) => c.state === ContainerState.CONTAINER_EXITED));
    await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: podId }, 60_000);
    assert.deepEqual((await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers, []);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(berthd.dir));
    assert.deepEqual(mounts, []);
    assert.deepEqual(await readdir(join(berthd.state, 'containers')), []);
  });
});
