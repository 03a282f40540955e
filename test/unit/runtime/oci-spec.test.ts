import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ContainerConfig,
  MountPropagation,
  NamespaceMode,
  SecurityProfile_ProfileType,
} from '../../../src/api/gen/cri.js';
import {
  buildOciSpec,
  capabilitiesOf,
  cgroupsPathOf,
  DEFAULT_CAPABILITIES,
  processArgs,
  processEnv,
} from '../../../src/runtime/oci-spec.js';
import type { SpecInput } from '../../../src/runtime/oci-spec.js';

const HOST_CAPS = [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE'].sort();
const SECCOMP = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }] };

function input(config: Record<string, unknown> = {}, overrides: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c'.repeat(64),
    config: ContainerConfig.fromJSON({ metadata: { name: 'app' }, image: { image: 'busybox' }, ...config }),
    image: { Entrypoint: ['/entry'], Cmd: ['default-arg'], Env: ['PATH=/image/bin', 'A=image'], WorkingDir: '/work' },
    user: { uid: 1000, gid: 1000, additionalGids: [50] },
    rootfs: '/run/berth/rootfs/c',
    pod: {
      sandboxId: 'p'.repeat(64),
      hostname: 'web',
      netnsPath: '/run/berth/sandboxes/p/net',
      ipcnsPath: '/run/berth/sandboxes/p/ipc',
      utsnsPath: '/run/berth/sandboxes/p/uts',
      hostNetwork: false,
      hostIpc: false,
      shmPath: '/run/berth/sandboxes/p/shm',
      hostnamePath: '/var/lib/berth/sandboxes/p/hostname',
      hostsPath: '/var/lib/berth/sandboxes/p/hosts',
      resolvConfPath: '/var/lib/berth/sandboxes/p/resolv.conf',
      cgroupParent: '/kubepods/pod1',
    },
    host: {
      capabilities: HOST_CAPS,
      devices: [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }],
      cgroupDriver: 'cgroupfs',
      minOomScoreAdj: 0,
      seccompDefault: SECCOMP,
    },
    devices: [],
    ...overrides,
  };
}

describe('OCI spec', () => {
  it('takes the command and args as kubelet defines them', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['default'] };
    assert.deepEqual(processArgs({ command: [], args: [] }, image), ['/entry', 'default']);
    assert.deepEqual(processArgs({ command: [], args: ['x'] }, image), ['/entry', 'x']);
    assert.deepEqual(processArgs({ command: ['/bin/sh'], args: [] }, image), ['/bin/sh']);
    assert.deepEqual(processArgs({ command: ['/bin/sh'], args: ['-c', 'true'] }, image), ['/bin/sh', '-c', 'true']);
    assert.throws(() => processArgs({ command: [], args: [] }, {}), { code: 'INVALID_ARGUMENT' });
  });

  it('merges env: defaults, image, then container; refuses bad names', () => {
    const env = processEnv(
      {
        envs: [
          { key: 'A', value: Buffer.from('container') },
          { key: 'B', value: Buffer.from('b=c') },
        ],
      },
      { Env: ['PATH=/image/bin', 'A=image'] },
      'web',
    );
    assert.deepEqual(env, ['PATH=/image/bin', 'HOSTNAME=web', 'A=container', 'B=b=c']);
    assert.throws(() => processEnv({ envs: [{ key: 'X=Y', value: Buffer.from('') }] }, {}, 'h'), {
      code: 'INVALID_ARGUMENT',
    });
  });

  it('adds and drops capabilities with ALL, never beyond the host set', () => {
    assert.deepEqual(capabilitiesOf([], [], false, HOST_CAPS), [...DEFAULT_CAPABILITIES].sort());
    assert.ok(capabilitiesOf(['sys_admin'], [], false, HOST_CAPS).includes('CAP_SYS_ADMIN'));
    assert.ok(!capabilitiesOf([], ['CAP_KILL'], false, HOST_CAPS).includes('CAP_KILL'));
    assert.deepEqual(capabilitiesOf(['NET_ADMIN'], ['ALL'], false, HOST_CAPS), ['CAP_NET_ADMIN']);
    assert.deepEqual(capabilitiesOf(['ALL'], [], false, HOST_CAPS), HOST_CAPS);
    assert.deepEqual(capabilitiesOf(['CAP_SYS_RESOURCE'], [], false, HOST_CAPS).includes('CAP_SYS_RESOURCE'), false);
    assert.deepEqual(capabilitiesOf([], [], true, HOST_CAPS), HOST_CAPS);
  });

  it('builds the process, root, namespaces, pod files, shm and cgroup path', () => {
    const spec = buildOciSpec(input({ envs: [{ key: 'X', value: Buffer.from('1').toString('base64') }], tty: true }));
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.process.args, ['/entry', 'default-arg']);
    assert.equal(spec.process.cwd, '/work');
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [50] });
    assert.equal(spec.root.path, '/run/berth/rootfs/c');
    assert.deepEqual(spec.linux.namespaces, [
      { type: 'mount' },
      { type: 'network', path: '/run/berth/sandboxes/p/net' },
      { type: 'ipc', path: '/run/berth/sandboxes/p/ipc' },
      { type: 'uts', path: '/run/berth/sandboxes/p/uts' },
      { type: 'pid' },
    ]);
    const byDest = Object.fromEntries(spec.mounts.map((m) => [m.destination, m]));
    assert.equal(byDest['/etc/hosts']?.source, '/var/lib/berth/sandboxes/p/hosts');
    assert.equal(byDest['/etc/resolv.conf']?.source, '/var/lib/berth/sandboxes/p/resolv.conf');
    assert.equal(byDest['/dev/shm']?.source, '/run/berth/sandboxes/p/shm');
    assert.deepEqual(byDest['/sys']?.options.at(-1), 'ro');
    assert.equal(spec.linux.cgroupsPath, `/kubepods/pod1/${'c'.repeat(64)}`);
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    assert.equal(spec.linux.seccomp, undefined, 'no seccomp unless asked');
    assert.deepEqual(spec.linux.resources.devices, [{ allow: false, access: 'rwm' }]);
  });

  it('joins the host namespaces and the pod PID namespace as asked', () => {
    const spec = buildOciSpec(
      input(
        { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } } },
        {
          pod: {
            ...input().pod,
            hostNetwork: true,
            hostIpc: true,
            netnsPath: undefined,
            ipcnsPath: undefined,
            utsnsPath: undefined,
            pidnsPath: '/proc/42/ns/pid',
          },
        },
      ),
    );
    assert.deepEqual(spec.linux.namespaces, [{ type: 'mount' }, { type: 'pid', path: '/proc/42/ns/pid' }]);
    assert.equal(spec.mounts.find((m) => m.destination === '/dev/shm')?.source, '/dev/shm');
    const node = buildOciSpec(input({ linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.NODE } } } }));
    assert.ok(!node.linux.namespaces.some((n) => n.type === 'pid'));
  });

  it('bind-mounts with propagation and read-only, replacing a default at the same path', () => {
    const spec = buildOciSpec(
      input({
        mounts: [
          {
            containerPath: '/data',
            hostPath: '/srv/data',
            readonly: true,
            propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
          },
          { containerPath: '/etc/hosts', hostPath: '/tmp/my-hosts', propagation: MountPropagation.PROPAGATION_PRIVATE },
        ],
      }),
    );
    const data = spec.mounts.find((m) => m.destination === '/data');
    assert.deepEqual(data, {
      destination: '/data',
      type: 'bind',
      source: '/srv/data',
      options: ['rbind', 'rslave', 'ro'],
    });
    assert.equal(spec.mounts.filter((m) => m.destination === '/etc/hosts').length, 1);
    assert.equal(spec.mounts.find((m) => m.destination === '/etc/hosts')?.source, '/tmp/my-hosts');
    assert.equal(spec.linux.rootfsPropagation, 'rslave');
    assert.throws(() => buildOciSpec(input({ mounts: [{ containerPath: 'rel', hostPath: '/x' }] })), {
      code: 'INVALID_ARGUMENT',
    });
    assert.throws(() => buildOciSpec(input({ mounts: [{ containerPath: '/a/../b', hostPath: '/x' }] })), {
      code: 'INVALID_ARGUMENT',
    });
  });

  it('sets resources, a floor on oom_score_adj, seccomp and privileged mode', () => {
    const spec = buildOciSpec(
      input({
        linux: {
          resources: {
            cpuShares: 512,
            cpuQuota: 50000,
            cpuPeriod: 100000,
            memoryLimitInBytes: 64 << 20,
            oomScoreAdj: -998,
            cpusetCpus: '0',
          },
          securityContext: {
            seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
            readonlyRootfs: true,
            noNewPrivs: true,
          },
        },
      }),
    );
    assert.deepEqual(spec.linux.resources.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0' });
    assert.deepEqual(spec.linux.resources.memory, { limit: 64 << 20 });
    assert.equal(spec.process.oomScoreAdj, 0, 'never below berthd, which cannot lower it');
    assert.deepEqual(spec.linux.seccomp, SECCOMP);
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.ok(spec.mounts.find((m) => m.destination === '/etc/hosts')?.options.includes('ro'));

    const priv = buildOciSpec(
      input({
        linux: {
          securityContext: { privileged: true, seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } },
        },
      }),
    );
    assert.deepEqual(priv.process.capabilities.bounding, HOST_CAPS);
    assert.equal(priv.linux.maskedPaths, undefined);
    assert.equal(priv.linux.seccomp, undefined);
    assert.deepEqual(priv.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(priv.linux.devices, [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }]);
    assert.equal(priv.mounts.find((m) => m.destination === '/sys')?.options.at(-1), 'rw');
  });

  it('names cgroups per driver', () => {
    assert.equal(cgroupsPathOf('', 'abc', 'cgroupfs'), '/berth/abc');
    assert.equal(cgroupsPathOf('/kubepods/', 'abc', 'cgroupfs'), '/kubepods/abc');
    assert.equal(cgroupsPathOf('kubepods-pod1.slice', 'abc', 'systemd'), 'kubepods-pod1.slice:berth:abc');
  });
});

describe('seccomp profile choice', () => {
  it('reads the seccomp field, else the deprecated profile path', async () => {
    const { seccompProfileOf } = await import('../../../src/runtime/oci-spec.js');
    assert.deepEqual(seccompProfileOf(undefined), { kind: 'unconfined' });
    assert.deepEqual(seccompProfileOf({ seccompProfilePath: 'runtime/default' }), { kind: 'default' });
    assert.deepEqual(seccompProfileOf({ seccompProfilePath: 'docker/default' }), { kind: 'default' });
    assert.deepEqual(seccompProfileOf({ seccompProfilePath: 'localhost//etc/p.json' }), {
      kind: 'localhost',
      path: '/etc/p.json',
    });
    assert.deepEqual(
      seccompProfileOf({ seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: '/x.json' } }),
      { kind: 'localhost', path: '/x.json' },
    );
    assert.throws(() => seccompProfileOf({ seccompProfilePath: '/abs/no-prefix.json' }), { code: 'INVALID_ARGUMENT' });
  });
});
