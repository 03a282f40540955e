// runc, conmon and a CNI plugin that fail or hang (issue #7, item 3): berthd is configured with failpoint
// scripts in their place (containerd's runc-fp and cni-bridge-fp idea) that pass through to the real binary
// unless a mode file tells them to fail (exit 1) or hang (sleep, as a child of the script, so the pipes stay
// open after the script is killed). Each RPC gives a clear error (UNKNOWN naming the binary, or
// DEADLINE_EXCEEDED within the configured time limit), nothing is left behind (no half object listed, no
// bundle, snapshot, mount, conmon, lease, and no process of the script), and berthd serves on: the same name
// works once the binary behaves.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { ContainerConfig, ContainerState, PodSandboxConfig, PodSandboxState } from '../../../src/api/gen/cri.js';
import { integrationSkipReason, makeTempDir, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { leftovers } from '../../harness/leftovers.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const RPC_TIMEOUT_MS = 30_000;
const REAL_RUNC = '/usr/sbin/runc';
const REAL_CONMON = '/usr/bin/conmon';
const REAL_CNI_DIR = '/usr/lib/cni';

describe('runc, conmon and CNI plugins that fail or hang', { skip, timeout: 150_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let faultDir: string;
  let basePod: string;
  /** The sleep of a hanging script: a unique argv word to find its processes by. */
  const marker = `997.${randomInt(100, 999)}`;

  const rt = () => berthd.runtime();
  const setMode = (binary: 'runc' | 'conmon' | 'cni', mode: string) =>
    writeFile(join(faultDir, `${binary}.mode`), mode);
  const failure = async (call: Promise<unknown>): Promise<ServiceError> => {
    try {
      await call;
    } catch (err) {
      return err as ServiceError;
    }
    throw new Error('expected the call to fail, but it succeeded');
  };
  const podConfig = (name: string) =>
    PodSandboxConfig.fromJSON({ metadata: { name, namespace: 'faults', uid: `${name}-uid`, attempt: 0 } });
  const runPod = (name: string) =>
    unary(rt().runPodSandbox.bind(rt()), { config: podConfig(name), runtimeHandler: '' }, RPC_TIMEOUT_MS).then(
      (r) => r.podSandboxId,
    );
  const create = (name: string) =>
    unary(
      rt().createContainer.bind(rt()),
      {
        podSandboxId: basePod,
        config: ContainerConfig.fromJSON({ metadata: { name }, image: { image }, command: ['/bin/sleep', '1000'] }),
        sandboxConfig: undefined,
      },
      RPC_TIMEOUT_MS,
    ).then((r) => r.containerId);
  const start = (containerId: string) => unary(rt().startContainer.bind(rt()), { containerId }, RPC_TIMEOUT_MS);
  const removeContainer = (containerId: string) =>
    unary(rt().removeContainer.bind(rt()), { containerId }, RPC_TIMEOUT_MS);
  const stopPod = (podSandboxId: string) => unary(rt().stopPodSandbox.bind(rt()), { podSandboxId }, RPC_TIMEOUT_MS);
  const removePod = (podSandboxId: string) => unary(rt().removePodSandbox.bind(rt()), { podSandboxId }, RPC_TIMEOUT_MS);
  const containers = async () => (await unary(rt().listContainers.bind(rt()), { filter: undefined })).containers;
  const pods = async () => (await unary(rt().listPodSandbox.bind(rt()), { filter: undefined })).items;
  const assertNothingLeft = async (when: string) => assert.deepEqual(await leftovers(berthd, marker), [], when);
  /** The same name works once the binary behaves: create, start, remove. */
  const createWorks = async (name: string) => {
    const id = await create(name);
    await start(id);
    await removeContainer(id);
    await assertNothingLeft(`after ${name} was created again`);
  };

  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    image = `${registry.host}/berth-test/busybox:latest`;
    faultDir = await makeTempDir('berth-faults-');
    await mkdir(join(faultDir, 'cni'));
    // Each script: the action its mode file names for this (sub)command, else the real binary.
    const script = (binary: string, command: string, real: string, failLine: string) =>
      [
        '#!/bin/sh',
        `mode=$(cat ${faultDir}/${binary}.mode 2>/dev/null)`,
        command,
        'case "$mode" in',
        `  "$cmd hang") sleep ${marker}; exit 1 ;;`,
        `  "$cmd fail") ${failLine}; exit 1 ;;`,
        'esac',
        `exec ${real} "$@"`,
        '',
      ].join('\n');
    const scripts = {
      runc: script(
        'runc',
        'cmd=; for a in "$@"; do case "$a" in create|start|kill|delete|state|update) cmd=$a; break ;; esac; done',
        REAL_RUNC,
        'echo "failpoint: runc $cmd fails" >&2',
      ),
      conmon: script('conmon', 'cmd=conmon', REAL_CONMON, 'echo "failpoint: conmon fails" >&2'),
      'cni/bridge': script(
        'cni',
        'cmd=$CNI_COMMAND',
        join(REAL_CNI_DIR, 'bridge'),
        `printf '{"cniVersion":"1.0.0","code":11,"msg":"failpoint: bridge %s fails"}' "$cmd"`,
      ),
    };
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(faultDir, name), text);
      await chmod(join(faultDir, name), 0o755);
    }
    berthd = await startBerthd({
      criToml: [
        `conmon_path = "${join(faultDir, 'conmon')}"`,
        'runtime_timeout = "2s"',
        'runtime_create_timeout = "3s"',
      ].join('\n'),
      cniToml: `bin_dir = "${join(faultDir, 'cni')}:${REAL_CNI_DIR}"\nplugin_timeout = "2s"`,
      extraToml: `[plugins.cri.containerd.runtimes.runc]\nbinary = "${join(faultDir, 'runc')}"\n`,
    });
    const img = berthd.image();
    const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
    await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
    basePod = await runPod('base');
  });
  afterEach(async () => {
    for (const binary of ['runc', 'conmon', 'cni'] as const) await setMode(binary, 'pass');
  });
  after(async () => {
    if (berthd !== undefined)
      for (const p of await pods().catch(() => [])) await removePod(p.id).catch(() => undefined);
    await berthd?.cleanup();
    await registry?.stop();
  });

  it('runc create failing: UNKNOWN with runc named, nothing left', async () => {
    await setMode('runc', 'create fail');
    const err = await failure(create('runc-create-fails'));
    assert.equal(err.code, status.UNKNOWN, err.details);
    assert.match(err.details, /runc/);
    assert.match(err.details, /failpoint: runc create fails/);
    assert.equal((await containers()).length, 0);
    await assertNothingLeft('after the failed create');
    await setMode('runc', 'pass');
    await createWorks('runc-create-fails');
  });

  it('runc create hanging: DEADLINE_EXCEEDED naming conmon and runc, both killed', async () => {
    await setMode('runc', 'create hang');
    const err = await failure(create('runc-create-hangs'));
    assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
    assert.match(err.details, /conmon.*runtime .*runc.*did not report within 3000 ms/);
    assert.equal((await containers()).length, 0);
    await assertNothingLeft('after the timed-out create');
    await setMode('runc', 'pass');
    await createWorks('runc-create-hangs');
  });

  it('runc start hanging: DEADLINE_EXCEEDED naming the command; the container stays created', async () => {
    const id = await create('runc-start-hangs');
    await setMode('runc', 'start hang');
    const err = await failure(start(id));
    assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
    assert.match(err.details, /runc .*start .* did not finish within 2000 ms/);
    const st = await unary(rt().containerStatus.bind(rt()), { containerId: id, verbose: false });
    assert.equal(st.status?.state, ContainerState.CONTAINER_CREATED);
    assert.equal(st.status?.startedAt, 0n);
    await assertNothingLeft('after the timed-out start');
    await setMode('runc', 'pass');
    await start(id);
    await removeContainer(id);
    await assertNothingLeft('after the removal');
  });

  it('conmon failing: UNKNOWN naming conmon, nothing left', async () => {
    await setMode('conmon', 'conmon fail');
    const err = await failure(create('conmon-fails'));
    assert.equal(err.code, status.UNKNOWN, err.details);
    assert.match(err.details, /failpoint: conmon fails/);
    assert.equal((await containers()).length, 0);
    await assertNothingLeft('after the failed create');
    await setMode('conmon', 'pass');
    await createWorks('conmon-fails');
  });

  it('conmon hanging: DEADLINE_EXCEEDED, the script and its child killed, nothing left', async () => {
    await setMode('conmon', 'conmon hang');
    const err = await failure(create('conmon-hangs'));
    assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
    assert.match(err.details, /conmon.* did not report within 3000 ms/);
    assert.equal((await containers()).length, 0);
    await assertNothingLeft('after the timed-out create');
    await setMode('conmon', 'pass');
    await createWorks('conmon-hangs');
  });

  it('CNI plugin failing on ADD: its CNI error, no pod, no lease, no netns', async () => {
    await setMode('cni', 'ADD fail');
    const err = await failure(runPod('cni-add-fails'));
    assert.notEqual(err.code, status.OK);
    assert.match(err.details, /CNI plugin "bridge" ADD .*failpoint: bridge ADD fails/);
    assert.equal(
      (await pods()).find((p) => p.metadata?.name === 'cni-add-fails'),
      undefined,
    );
    await assertNothingLeft('after the failed RunPodSandbox');
    await setMode('cni', 'pass');
    await removePod(await runPod('cni-add-fails'));
  });

  it('CNI plugin hanging on ADD: DEADLINE_EXCEEDED naming the plugin, rolled back', async () => {
    await setMode('cni', 'ADD hang');
    const err = await failure(runPod('cni-add-hangs'));
    assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
    assert.match(err.details, /CNI plugin "bridge" ADD .*bridge did not finish within 2000 ms/);
    assert.equal(
      (await pods()).find((p) => p.metadata?.name === 'cni-add-hangs'),
      undefined,
    );
    await assertNothingLeft('after the timed-out RunPodSandbox');
    await setMode('cni', 'pass');
    await removePod(await runPod('cni-add-hangs'));
  });

  it('CNI plugin hanging on DEL: StopPodSandbox DEADLINE_EXCEEDED, the pod not ready, a retry finishes', async () => {
    const pod = await runPod('cni-del-hangs');
    await setMode('cni', 'DEL hang');
    const err = await failure(stopPod(pod));
    assert.equal(err.code, status.DEADLINE_EXCEEDED, err.details);
    assert.match(err.details, /bridge did not finish within 2000 ms/);
    const listed = (await pods()).find((p) => p.id === pod);
    assert.equal(listed?.state, PodSandboxState.SANDBOX_NOTREADY, 'a pod whose stop began is not ready');
    await setMode('cni', 'pass');
    await stopPod(pod);
    await removePod(pod);
    await assertNothingLeft('after the retried stop');
  });

  it('keeps serving: a pod and a container run after all the faults', async () => {
    const v = await unary(rt().version.bind(rt()), { version: 'v1' });
    assert.equal(v.runtimeName, 'berth');
    await createWorks('after-faults');
    await removePod(await runPod('after-faults'));
    await assertNothingLeft('at the end');
  });
});
