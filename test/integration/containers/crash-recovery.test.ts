// kill -9 of berthd at named points of the pod and container lifecycles (src/base/crash-point.ts): berthd is
// started with BERTH_CRASH_POINT armed, an RPC reaches the point and berthd SIGKILLs itself there. After a restart
// (with the next case's point armed, or none), the case checks what a client sees (no half object is listed; an
// interrupted removal can be finished), that nothing is left behind (mounts, bundle and pod dirs, runc state,
// conmon processes and exit files, snapshots, CNI leases and cached results), and that the same operation with the
// same names succeeds. A container started before the first crash runs through every crash and restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ContainerConfig,
  ContainerState,
  LinuxContainerResources,
  PodSandboxConfig,
  PodSandboxState,
} from '../../../src/api/gen/cri.js';
import { CRASH_POINT_ENV, crashPointMessage } from '../../../src/base/crash-point.js';
import { integrationSkipReason, restartBerthd, startBerthd, waitForExit } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import { waitFor } from '../../harness/wait.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const RPC_TIMEOUT_MS = 30_000;
const CRASH_WAIT_MS = 30_000;
const HEX_ID = /^[0-9a-f]{64}$/;
/** The crash points a pod's run and removal pass, and those a container's create, start and removal pass. */
const POD_PASSES = ['sandbox.', 'network.'];
const CONTAINER_PASSES = ['container.', 'snapshots.'];
const MIB = 1024 * 1024;

interface CrashCase {
  readonly point: string;
  /** Prefixes of the crash points verify() passes through: the next case's point is armed only if it is not one. */
  readonly verifyPasses: readonly string[];
  /** Work done before the crash point is armed for act() (nothing here may reach it). */
  readonly prepare?: () => Promise<void>;
  /** The RPC that reaches the crash point (it fails when berthd dies). */
  readonly act: () => Promise<unknown>;
  /** After the restart: what the client sees, then the same operation with the same names. */
  readonly verify: () => Promise<void>;
}

describe('kill -9 at crash points of the pod and container lifecycles', { skip, timeout: 300_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let basePod: string;
  let survivor: string;

  const rt = () => berthd.runtime();
  const podConfig = (name: string) =>
    PodSandboxConfig.fromJSON({
      metadata: { name, namespace: 'crash', uid: `${name}-uid`, attempt: 0 },
      hostname: name,
      logDirectory: join(berthd.dir, 'pod-logs', name),
    });
  const runPod = (name: string) =>
    unary(rt().runPodSandbox.bind(rt()), { config: podConfig(name), runtimeHandler: '' }, RPC_TIMEOUT_MS).then(
      (r) => r.podSandboxId,
    );
  const removePod = (podSandboxId: string) => unary(rt().removePodSandbox.bind(rt()), { podSandboxId }, RPC_TIMEOUT_MS);
  const pods = async () => (await unary(rt().listPodSandbox.bind(rt()), { filter: undefined })).items;
  const podNamed = async (name: string) => (await pods()).find((p) => p.metadata?.name === name);
  const createIn = (podSandboxId: string, name: string, command = ['/bin/sleep', '1000']) =>
    unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId,
        config: ContainerConfig.fromJSON({ metadata: { name }, image: { image }, command, logPath: `${name}.log` }),
        sandboxConfig: undefined,
      },
      RPC_TIMEOUT_MS,
    ).then((r) => r.containerId);
  const create = (name: string) => createIn(basePod, name);
  const start = (containerId: string) => unary(rt().startContainer.bind(rt()), { containerId }, RPC_TIMEOUT_MS);
  const stop = (containerId: string) =>
    unary(rt().stopContainer.bind(rt()), { containerId, timeout: 0n }, RPC_TIMEOUT_MS);
  const stopPod = (podSandboxId: string) => unary(rt().stopPodSandbox.bind(rt()), { podSandboxId }, RPC_TIMEOUT_MS);
  const updateResources = (containerId: string, memoryLimitInBytes: number) =>
    unary(
      rt().updateContainerResources.bind(rt()),
      {
        containerId,
        linux: LinuxContainerResources.fromJSON({ memoryLimitInBytes }),
        windows: undefined,
        annotations: {},
      },
      RPC_TIMEOUT_MS,
    );
  const removeContainer = (containerId: string) =>
    unary(rt().removeContainer.bind(rt()), { containerId }, RPC_TIMEOUT_MS);
  const containers = async () => (await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers;
  const containerNamed = async (name: string) => (await containers()).find((c) => c.metadata?.name === name);
  const statusOf = (containerId: string) =>
    unary(rt().containerStatus.bind(rt()), { containerId, verbose: false }).then((r) => r.status!);

  /** Starts berthd on the same dirs with point armed (or none), after the previous one died. */
  const restart = async (point: string | undefined) => {
    berthd = await restartBerthd(berthd, point === undefined ? {} : { env: { [CRASH_POINT_ENV]: point } });
  };

  /** Runs act() on a berthd armed with the case's point and waits for berthd to kill itself there. */
  const crashAt = async (c: CrashCase) => {
    const pending = c.act();
    pending.catch(() => undefined); // the RPC dies with berthd
    await waitForExit(berthd.process, CRASH_WAIT_MS);
    assert.equal(berthd.process.signalCode, 'SIGKILL', `berthd died by SIGKILL:\n${berthd.stderr().slice(-4000)}`);
    assert.ok(berthd.stderr().includes(crashPointMessage(c.point)), `berthd reached crash point ${c.point}`);
    await assert.rejects(pending, `the RPC reaching ${c.point} failed with the daemon`);
  };

  /** Every resource under the test's dirs (and the node's) belongs to a pod or container berthd lists. */
  const assertNoLeftovers = async (when: string) => {
    const podIds = new Set((await pods()).map((p) => p.id));
    const ctrIds = new Set((await containers()).map((c) => c.id));
    const only = async (dir: string, ids: ReadonlySet<string>, what: string) => {
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => HEX_ID.test(n));
      assert.deepEqual(
        names.filter((n) => !ids.has(n)),
        [],
        `${when}: no leftover ${what} (${dir})`,
      );
    };
    await only(join(berthd.state, 'containers'), ctrIds, 'bundle dir');
    await only(join(berthd.state, 'runc'), ctrIds, 'runc state');
    await only(join(berthd.state, 'exits'), ctrIds, 'exit file');
    await only(join(berthd.state, 's'), ctrIds, 'attach socket dir');
    await only(join(berthd.state, 'sandboxes'), podIds, 'pod state dir');
    await only(join(berthd.root, 'sandboxes'), podIds, 'pod dir');
    await only(join(berthd.root, 'cni', 'results'), podIds, 'CNI result');

    const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${berthd.dir}/`));
    const unowned = mounts.filter((m) => {
      const id = m.split('/').find((part) => HEX_ID.test(part));
      return id === undefined || !(ctrIds.has(id) || podIds.has(id));
    });
    assert.deepEqual(unowned, [], `${when}: every mount belongs to a listed pod or container`);
    // Each scan sees what it looks for: the running container's and the base pod's own resources.
    assert.ok(mounts.some((m) => m.includes(survivor)) && mounts.some((m) => m.includes(basePod)), `${when}: mounts`);

    const activeDir = join(berthd.root, 'snapshots', 'overlayfs', 'active');
    const keys: string[] = [];
    for (const n of await readdir(activeDir).catch(() => [] as string[])) {
      const meta = JSON.parse(await readFile(join(activeDir, n, 'meta.json'), 'utf8')) as { key: string };
      keys.push(meta.key);
    }
    assert.deepEqual(
      keys.filter((k) => !ctrIds.has(k)),
      [],
      `${when}: every active snapshot belongs to a listed container`,
    );
    assert.ok(keys.includes(survivor), `${when}: the running container's snapshot is seen`);

    const conmons: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      const bundle = argv[argv.indexOf('-b') + 1] ?? '';
      if (argv[0]?.endsWith('conmon') && bundle.startsWith(`${berthd.state}/`))
        conmons.push(argv[argv.indexOf('-c') + 1] ?? '');
    }
    assert.deepEqual(
      conmons.filter((id) => !ctrIds.has(id)),
      [],
      `${when}: every conmon monitors a listed container`,
    );
    assert.ok(conmons.includes(survivor), `${when}: the running container's conmon is seen`);

    const leaseDir = berthd.network!.leaseDir;
    const holders: string[] = [];
    for (const n of await readdir(leaseDir).catch(() => [] as string[])) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(n)) continue;
      holders.push((await readFile(join(leaseDir, n), 'utf8')).split(/\s/)[0] ?? '');
    }
    const readyPods = new Set((await pods()).filter((p) => p.state === PodSandboxState.SANDBOX_READY).map((p) => p.id));
    assert.deepEqual(
      holders.filter((id) => !readyPods.has(id)),
      [],
      `${when}: every CNI lease belongs to a ready pod`,
    );
    assert.ok(holders.includes(basePod), `${when}: the base pod's lease is seen`);

    const st = await statusOf(survivor);
    assert.equal(st.state, ContainerState.CONTAINER_RUNNING, `${when}: the container started first still runs`);
  };

  /** A pod run that a crash interrupted is gone; the same pod runs again (then goes, for the next case). */
  const runAgain = (name: string) => async () => {
    assert.equal(await podNamed(name), undefined, `half-created pod ${name} is not listed`);
    const id = await runPod(name);
    assert.equal((await podNamed(name))?.state, PodSandboxState.SANDBOX_READY);
    await removePod(id);
  };
  /** A container create that a crash interrupted is gone; the same name is created, runs, and goes again. */
  const createAgain = (name: string) => async () => {
    assert.equal(await containerNamed(name), undefined, `half-created container ${name} is not listed`);
    const id = await create(name);
    await start(id);
    assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_RUNNING);
    await removeContainer(id);
  };

  const ids = new Map<string, string>();
  const runCase = (point: string, name: string): CrashCase => ({
    point,
    verifyPasses: POD_PASSES,
    act: () => runPod(name),
    verify: runAgain(name),
  });
  const createCase = (point: string, name: string): CrashCase => ({
    point,
    verifyPasses: CONTAINER_PASSES,
    act: () => create(name),
    verify: createAgain(name),
  });
  /**
   * A pod whose StopPodSandbox or RemovePodSandbox a crash cut off: it is listed (ready only if nothing was
   * released yet), stop and removal finish, and the same pod runs again.
   */
  const podTeardownCase = (
    point: string,
    name: string,
    rpc: 'stop' | 'remove',
    expected: PodSandboxState,
    /** With a running container in the pod: what it is after the crash. */
    container?: 'exited' | 'gone',
  ): CrashCase => ({
    point,
    verifyPasses: container === undefined ? POD_PASSES : [...POD_PASSES, ...CONTAINER_PASSES],
    prepare: async () => {
      const pod = await runPod(name);
      ids.set(name, pod);
      if (container !== undefined) await start(await createIn(pod, `${name}-ctr`));
    },
    act: () => (rpc === 'stop' ? stopPod(ids.get(name)!) : removePod(ids.get(name)!)),
    verify: async () => {
      const pod = await podNamed(name);
      assert.ok(pod !== undefined, `the pod whose ${rpc} was interrupted is listed`);
      assert.equal(pod?.id, ids.get(name));
      assert.equal(pod.state, expected, `the pod is listed ${PodSandboxState[expected]}`);
      if (container !== undefined) {
        const state = (await containerNamed(`${name}-ctr`))?.state;
        assert.equal(state, container === 'gone' ? undefined : ContainerState.CONTAINER_EXITED);
      }
      await stopPod(pod.id);
      assert.equal((await podNamed(name))?.state, PodSandboxState.SANDBOX_NOTREADY);
      await removePod(pod.id);
      assert.equal(await podNamed(name), undefined);
      await assertNoLeftovers(`after the finished ${rpc}`);
      await removePod(await runPod(name));
    },
  });
  /** A container whose RemoveContainer a crash cut off after it was stopped: listed exited, removable, reusable. */
  const removeCase = (point: string, name: string): CrashCase => ({
    point,
    verifyPasses: CONTAINER_PASSES,
    prepare: async () => {
      const id = await create(name);
      ids.set(name, id);
      await start(id);
    },
    act: () => removeContainer(ids.get(name)!),
    verify: async () => {
      const id = ids.get(name)!;
      const c = await containerNamed(name);
      assert.ok(c !== undefined, 'the container whose removal was interrupted is listed');
      assert.equal(c?.id, id);
      assert.equal(c.state, ContainerState.CONTAINER_EXITED);
      await removeContainer(id);
      assert.equal(await containerNamed(name), undefined);
      await assertNoLeftovers('after the finished removal');
      await createAgain(name)();
    },
  });
  const cases: CrashCase[] = [
    runCase('sandbox.run.after-record', 'run-after-record'),
    createCase('container.create.after-record', 'create-after-record'),
    runCase('sandbox.run.after-namespaces', 'run-after-namespaces'),
    createCase('container.create.after-snapshot', 'create-after-snapshot'),
    runCase('sandbox.run.after-network', 'run-after-network'),
    createCase('container.create.after-bundle', 'create-after-bundle'),
    runCase('sandbox.run.before-ready', 'run-before-ready'),
    createCase('container.create.after-conmon', 'create-after-conmon'),
    runCase('sandbox.run.after-shm', 'run-after-shm'),
    createCase('container.create.after-prepare', 'create-after-prepare'),
    runCase('network.cni.add.after-loopback', 'add-after-loopback'),
    createCase('snapshots.active.before-rename', 'active-before-rename'),
    runCase('network.cni.add.mid-chain', 'add-mid-chain'),
    createCase('container.create.before-created', 'create-before-created'),
    // Its network and namespaces were released: listed not ready until the removal is retried.
    podTeardownCase('sandbox.remove.after-release', 'remove-after-release', 'remove', PodSandboxState.SANDBOX_NOTREADY),
    {
      point: 'container.start.after-runtime-start',
      verifyPasses: CONTAINER_PASSES,
      prepare: async () => {
        ids.set('start', await create('start'));
      },
      act: () => start(ids.get('start')!),
      verify: async () => {
        // The runtime started it: it runs, with a start time, and stops and goes like any other.
        const id = ids.get('start')!;
        const st = await statusOf(id);
        assert.equal(st.state, ContainerState.CONTAINER_RUNNING);
        assert.ok(st.startedAt > 0n, 'a recovered running container has a start time');
        await removeContainer(id);
        await createAgain('start')();
      },
    },
    // StopPodSandbox marks the pod not ready before it releases anything; the restart finishes the release.
    podTeardownCase('sandbox.stop.after-network', 'stop-after-network', 'stop', PodSandboxState.SANDBOX_NOTREADY),
    {
      point: 'container.stop.after-kill',
      verifyPasses: CONTAINER_PASSES,
      prepare: async () => {
        const id = await create('stop');
        ids.set('stop', id);
        await start(id);
      },
      act: () => stop(ids.get('stop')!),
      verify: async () => {
        // SIGKILL was sent: the container has exited (conmon recorded it), and a second stop is a no-op.
        const id = ids.get('stop')!;
        const st = await waitFor('the killed container to be exited', async () => {
          const s = await statusOf(id);
          return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
        });
        assert.equal(st.exitCode, 137);
        await stop(id);
        await removeContainer(id);
        await createAgain('stop')();
      },
    },
    podTeardownCase('sandbox.stop.after-release', 'stop-after-release', 'stop', PodSandboxState.SANDBOX_NOTREADY),
    // The runtime forgot it, berthd had not: it is listed exited, and a retried removal finishes the job.
    removeCase('container.remove.after-delete', 'remove'),
    podTeardownCase('sandbox.remove.after-network', 'remove-after-network', 'remove', PodSandboxState.SANDBOX_NOTREADY),
    {
      point: 'container.start.before-runtime-start',
      verifyPasses: CONTAINER_PASSES,
      prepare: async () => {
        ids.set('start-before', await create('start-before'));
      },
      act: () => start(ids.get('start-before')!),
      verify: async () => {
        // Only the start time was stored: the container is created, not started, and starts now.
        const id = ids.get('start-before')!;
        const st = await statusOf(id);
        assert.equal(st.state, ContainerState.CONTAINER_CREATED);
        assert.equal(st.startedAt, 0n, 'a container the runtime never started has no start time');
        await start(id);
        assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_RUNNING);
        await removeContainer(id);
      },
    },
    // DEL ran for portmap, not yet for bridge: the restart runs the whole DEL chain again.
    podTeardownCase('network.cni.del.mid-chain', 'del-mid-chain', 'remove', PodSandboxState.SANDBOX_NOTREADY),
    {
      point: 'container.update.after-runtime',
      verifyPasses: CONTAINER_PASSES,
      prepare: async () => {
        const id = await create('update');
        ids.set('update', id);
        await start(id);
      },
      act: () => updateResources(ids.get('update')!, 64 * MIB),
      verify: async () => {
        // The cgroup has the new limit, the record the old one: the retried update makes them agree.
        const id = ids.get('update')!;
        assert.equal((await statusOf(id)).state, ContainerState.CONTAINER_RUNNING);
        await updateResources(id, 64 * MIB);
        assert.equal((await statusOf(id)).resources?.linux?.memoryLimitInBytes, BigInt(64 * MIB));
        await removeContainer(id);
        await createAgain('update')();
      },
    },
    podTeardownCase('sandbox.remove.before-record', 'remove-before-record', 'remove', PodSandboxState.SANDBOX_NOTREADY),
    removeCase('container.remove.after-stop', 'remove-after-stop'),
    // The removal stopped after the containers went: the pod is still ready (nothing released), and goes.
    podTeardownCase(
      'sandbox.remove.after-containers',
      'remove-after-containers',
      'remove',
      PodSandboxState.SANDBOX_READY,
      'gone',
    ),
    removeCase('container.remove.after-unmount', 'remove-after-unmount'),
    // The containers stopped, nothing else: the pod is ready with its container exited, and stops now.
    podTeardownCase(
      'sandbox.stop.after-containers',
      'stop-after-containers',
      'stop',
      PodSandboxState.SANDBOX_READY,
      'exited',
    ),
    removeCase('container.remove.after-snapshot', 'remove-after-snapshot'),
    removeCase('container.remove.before-record', 'remove-before-record'),
    {
      point: 'container.exit.before-record',
      verifyPasses: CONTAINER_PASSES,
      prepare: async () => {
        const id = await create('exit');
        ids.set('exit', id);
        await start(id);
      },
      act: () => stop(ids.get('exit')!),
      verify: async () => {
        // conmon wrote the exit file; berthd died before recording it: the restart reads it.
        const id = ids.get('exit')!;
        const st = await statusOf(id);
        assert.equal(st.state, ContainerState.CONTAINER_EXITED);
        assert.equal(st.exitCode, 137);
        await removeContainer(id);
        await createAgain('exit')();
      },
    },
  ];

  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    image = `${registry.host}/berth-test/busybox:latest`;
    berthd = await startBerthd();
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    basePod = await runPod('base');
    survivor = await create('survivor');
    await start(survivor);
  });
  after(async () => {
    // Take the pods and their containers down, on a fresh berthd if a failed case left it dead.
    if (berthd !== undefined) {
      const isAlive = () => berthd.process.exitCode === null && berthd.process.signalCode === null;
      if (!isAlive()) berthd = await restartBerthd(berthd).catch(() => berthd);
      if (isAlive()) for (const p of await pods().catch(() => [])) await removePod(p.id).catch(() => undefined);
    }
    await berthd?.cleanup();
    await registry?.stop();
  });

  it('cleans up after every crash point and serves the same names again', async () => {
    let armed: string | undefined; // the point the running berthd has armed
    for (const [i, c] of cases.entries()) {
      if (armed !== c.point) {
        // A quiescent kill -9 (nothing is half done), then a start armed for this case.
        await berthd.kill();
        await restart(c.point);
      }
      await c.prepare?.();
      await crashAt(c);
      const next = cases[i + 1];
      armed = next !== undefined && !c.verifyPasses.some((p) => next.point.startsWith(p)) ? next.point : undefined;
      await restart(armed);
      await assertNoLeftovers(`after a crash at ${c.point}`);
      await c.verify();
      await assertNoLeftovers(`after the retry of ${c.point}`);
    }
  });
});
