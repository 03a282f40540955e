/**
 * The OCI runtime spec (config.json) of a container, from the CRI ContainerConfig, the image config and the
 * pod it joins. Pure: everything read from the host (capability set, devices, seccomp profile, passwd) is
 * resolved by the caller and passed in, so every rule here is unit-tested.
 *
 * Rules follow kubelet's expectations as containerd's CRI plugin implements them: command/args over the image's
 * Entrypoint/Cmd; image env then container env; default capabilities with add/drop and "ALL"; masked and
 * read-only /proc paths unless privileged; the pod's /etc/hostname, /etc/hosts, /etc/resolv.conf and /dev/shm;
 * bind mounts with their propagation; resources; the pod's namespaces joined by path.
 */
import { MountPropagation, NamespaceMode, SecurityProfile_ProfileType } from '../api/gen/cri.js';
import type { ContainerConfig, LinuxContainerResources } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';
import type { ResolvedUser } from './image-user.js';
import type {
  OciDevice,
  OciDeviceRule,
  OciMount,
  OciNamespace,
  OciResources,
  OciSeccomp,
  OciSpec,
} from './oci-types.js';

/** The image config fields a container's process comes from (OCI image config `config`). */
export interface ImageRuntimeConfig {
  readonly User?: string | undefined;
  readonly Env?: readonly string[] | null | undefined;
  readonly Entrypoint?: readonly string[] | null | undefined;
  readonly Cmd?: readonly string[] | null | undefined;
  readonly WorkingDir?: string | undefined;
}

/** What the container joins of its pod. Paths are absent where the pod uses the node's namespace. */
export interface PodContext {
  readonly sandboxId: string;
  readonly hostname: string;
  readonly netnsPath?: string;
  readonly ipcnsPath?: string;
  readonly utsnsPath?: string;
  /** The pod's shared PID namespace (pid: POD). */
  readonly pidnsPath?: string;
  readonly hostNetwork: boolean;
  readonly hostIpc: boolean;
  readonly shmPath?: string;
  readonly hostnamePath?: string;
  readonly hostsPath?: string;
  readonly resolvConfPath?: string;
  readonly cgroupParent: string;
}

export interface HostFacts {
  /** berthd's bounding set: privileged containers get these, others never more. */
  readonly capabilities: readonly string[];
  /** Host devices, for privileged containers. */
  readonly devices: readonly OciDevice[];
  readonly cgroupDriver: 'cgroupfs' | 'systemd';
  /** berthd's own oom_score_adj: a container may not go below it (no CAP_SYS_RESOURCE here). */
  readonly minOomScoreAdj: number;
  readonly seccompDefault: OciSeccomp;
}

export interface SpecInput {
  readonly id: string;
  readonly config: ContainerConfig;
  readonly image: ImageRuntimeConfig;
  readonly user: ResolvedUser;
  readonly rootfs: string;
  readonly pod: PodContext;
  readonly host: HostFacts;
  /** config.devices resolved on the host (type, major, minor), in order, with their permissions. */
  readonly devices: readonly { readonly device: OciDevice; readonly permissions: string }[];
  /** Parsed profile of a Localhost seccomp profile (the caller reads the file). */
  readonly localhostSeccomp?: OciSeccomp;
  /** pid: TARGET joins this container's PID namespace. */
  readonly targetPidnsPath?: string;
}

/** containerd's default capability set (what Docker grants). */
export const DEFAULT_CAPABILITIES = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

export const DEFAULT_MASKED_PATHS = Object.freeze([
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
]);

export const DEFAULT_READONLY_PATHS = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function invalid(message: string): BerthError {
  return new BerthError('INVALID_ARGUMENT', message);
}

/** kubelet's rule: command replaces the Entrypoint (and drops Cmd); args replace Cmd. */
export function processArgs(config: Pick<ContainerConfig, 'command' | 'args'>, image: ImageRuntimeConfig): string[] {
  const entrypoint = config.command.length > 0 ? config.command : [...(image.Entrypoint ?? [])];
  const cmd = config.command.length > 0 || config.args.length > 0 ? config.args : [...(image.Cmd ?? [])];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalid('no command specified: the image has no Entrypoint or Cmd and none was given');
  return args;
}

/** Image env, then container env (same key: the container wins), PATH and HOSTNAME defaulted. */
export function processEnv(
  config: Pick<ContainerConfig, 'envs'>,
  image: ImageRuntimeConfig,
  hostname: string,
): string[] {
  const env = new Map<string, string>();
  const put = (entry: string): void => {
    const i = entry.indexOf('=');
    env.set(i < 0 ? entry : entry.slice(0, i), entry);
  };
  put(DEFAULT_PATH);
  put(`HOSTNAME=${hostname}`);
  for (const e of image.Env ?? []) put(e);
  for (const kv of config.envs) {
    if (kv.key === '' || kv.key.includes('=')) throw invalid(`environment variable name "${kv.key}" is invalid`);
    put(`${kv.key}=${Buffer.from(kv.value).toString('utf8')}`);
  }
  return [...env.values()];
}

function capName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** containerd's add/drop rules, bounded by what berthd itself holds. */
export function capabilitiesOf(
  add: readonly string[],
  drop: readonly string[],
  privileged: boolean,
  hostCaps: readonly string[],
): string[] {
  if (privileged) return [...hostCaps];
  let caps = new Set<string>(DEFAULT_CAPABILITIES);
  if (add.some((c) => c.toUpperCase() === 'ALL')) caps = new Set(hostCaps);
  if (drop.some((c) => c.toUpperCase() === 'ALL')) caps = new Set();
  for (const c of add) if (c.toUpperCase() !== 'ALL') caps.add(capName(c));
  for (const c of drop) if (c.toUpperCase() !== 'ALL') caps.delete(capName(c));
  const host = new Set(hostCaps);
  return [...caps].filter((c) => host.has(c)).sort();
}

function propagationOf(p: MountPropagation): 'rprivate' | 'rslave' | 'rshared' {
  if (p === MountPropagation.PROPAGATION_BIDIRECTIONAL) return 'rshared';
  if (p === MountPropagation.PROPAGATION_HOST_TO_CONTAINER) return 'rslave';
  return 'rprivate';
}

function checkContainerPath(path: string, what: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..') || path.includes('\0')) {
    throw invalid(`${what} "${path}" must be an absolute path inside the container without ".."`);
  }
  return path;
}

function defaultMounts(privileged: boolean): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
  ];
}

function resourcesOf(input: SpecInput, privileged: boolean): OciResources {
  const r = input.config.linux?.resources;
  const devices: OciDeviceRule[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [
        { allow: false, access: 'rwm' },
        ...input.devices.map(({ device, permissions }) => ({
          allow: true,
          type: device.type === 'b' ? ('b' as const) : ('c' as const),
          major: device.major,
          minor: device.minor,
          access: permissions,
        })),
      ];
  return { devices, ...(r === undefined ? {} : computeResources(r)) };
}

/** CPU, memory, hugepage and unified limits of a CRI LinuxContainerResources (also for `runc update`). */
/** The kernel's CFS bounds (microseconds): a period of 1 ms to 1 s, a quota of at least 1 ms. */
const CFS_PERIOD_MIN_US = 1000n;
const CFS_PERIOD_MAX_US = 1_000_000n;
const CFS_QUOTA_MIN_US = 1000n;
const CPU_SHARES_MAX = 262_144n;
const CPUSET = /^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/;

/** Limits the kernel would refuse (or runc would turn into an obscure error) are refused here, by name. */
export function checkResources(r: LinuxContainerResources): void {
  if (r.cpuPeriod !== 0n && (r.cpuPeriod < CFS_PERIOD_MIN_US || r.cpuPeriod > CFS_PERIOD_MAX_US)) {
    throw invalid(`cpu_period ${r.cpuPeriod} is out of range (${CFS_PERIOD_MIN_US}-${CFS_PERIOD_MAX_US} us, or 0)`);
  }
  if (r.cpuQuota !== 0n && r.cpuQuota !== -1n && r.cpuQuota < CFS_QUOTA_MIN_US) {
    throw invalid(`cpu_quota ${r.cpuQuota} is out of range (>= ${CFS_QUOTA_MIN_US} us, or 0/-1 for none)`);
  }
  if (r.cpuShares < 0n || r.cpuShares > CPU_SHARES_MAX) {
    throw invalid(`cpu_shares ${r.cpuShares} is out of range (0-${CPU_SHARES_MAX})`);
  }
  if (r.memoryLimitInBytes < 0n || r.memorySwapLimitInBytes < -1n) {
    throw invalid('memory limits must not be negative (0: no limit)');
  }
  if (r.oomScoreAdj < -1000n || r.oomScoreAdj > 1000n) {
    throw invalid(`oom_score_adj ${r.oomScoreAdj} is out of range (-1000-1000)`);
  }
  for (const [key, value] of [
    ['cpuset_cpus', r.cpusetCpus],
    ['cpuset_mems', r.cpusetMems],
  ] as const) {
    if (value !== '' && !CPUSET.test(value)) throw invalid(`${key} "${value}" is not a list like "0-3,6"`);
  }
}

export function computeResources(r: LinuxContainerResources): Omit<OciResources, 'devices'> {
  checkResources(r);
  const out: Omit<OciResources, 'devices'> = {};
  const n = (v: bigint): number => Number(v);
  if (r.memoryLimitInBytes > 0n) {
    out.memory = { limit: n(r.memoryLimitInBytes) };
    if (r.memorySwapLimitInBytes > 0n) out.memory.swap = n(r.memorySwapLimitInBytes);
  }
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares > 0n) cpu.shares = n(r.cpuShares);
  if (r.cpuQuota > 0n) cpu.quota = n(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = n(r.cpuPeriod);
  if (r.cpusetCpus !== '') cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems !== '') cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (r.hugepageLimits.length > 0) {
    out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: n(h.limit) }));
  }
  if (Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

export function cgroupsPathOf(parent: string, id: string, driver: 'cgroupfs' | 'systemd'): string {
  if (driver === 'systemd') return `${parent === '' ? 'system.slice' : parent}:berth:${id}`;
  return `${parent === '' ? '/berth' : parent.replace(/\/+$/, '')}/${id}`;
}

/**
 * The container's seccomp profile: the `seccomp` field, else the deprecated `seccomp_profile_path` string that
 * older kubelets and critest v1.26 send ("unconfined", "runtime/default", "docker/default", "localhost/<path>").
 */
export function seccompProfileOf(
  sc:
    | {
        seccomp?: { profileType: SecurityProfile_ProfileType; localhostRef: string } | undefined;
        seccompProfilePath?: string;
      }
    | undefined,
): { kind: 'unconfined' } | { kind: 'default' } | { kind: 'localhost'; path: string } {
  const profile = sc?.seccomp;
  if (profile !== undefined) {
    if (profile.profileType === SecurityProfile_ProfileType.Unconfined) return { kind: 'unconfined' };
    if (profile.profileType === SecurityProfile_ProfileType.Localhost) {
      return { kind: 'localhost', path: profile.localhostRef.replace(/^localhost\//, '') };
    }
    return { kind: 'default' };
  }
  const path = sc?.seccompProfilePath ?? '';
  if (path === '' || path === 'unconfined') return { kind: 'unconfined' };
  if (path === 'runtime/default' || path === 'docker/default') return { kind: 'default' };
  if (path.startsWith('localhost/')) return { kind: 'localhost', path: path.slice('localhost/'.length) };
  throw invalid(
    `seccomp profile "${path}" is not one of unconfined, runtime/default, docker/default, localhost/<path>`,
  );
}

function seccompOf(input: SpecInput, privileged: boolean): OciSeccomp | undefined {
  if (privileged) return undefined;
  const profile = seccompProfileOf(input.config.linux?.securityContext);
  if (profile.kind === 'unconfined') return undefined;
  if (profile.kind === 'localhost') {
    if (input.localhostSeccomp === undefined) throw invalid(`seccomp profile ${profile.path} was not loaded`);
    return input.localhostSeccomp;
  }
  return input.host.seccompDefault;
}

function namespacesOf(input: SpecInput): OciNamespace[] {
  const { pod } = input;
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (!pod.hostNetwork) ns.push({ type: 'network', ...(pod.netnsPath ? { path: pod.netnsPath } : {}) });
  if (!pod.hostIpc) ns.push({ type: 'ipc', ...(pod.ipcnsPath ? { path: pod.ipcnsPath } : {}) });
  if (!pod.hostNetwork) ns.push({ type: 'uts', ...(pod.utsnsPath ? { path: pod.utsnsPath } : {}) });
  const pidMode = input.config.linux?.securityContext?.namespaceOptions?.pid ?? NamespaceMode.CONTAINER;
  if (pidMode === NamespaceMode.POD) {
    if (pod.pidnsPath === undefined) throw new BerthError('FAILED_PRECONDITION', 'the pod has no shared PID namespace');
    ns.push({ type: 'pid', path: pod.pidnsPath });
  } else if (pidMode === NamespaceMode.TARGET) {
    if (input.targetPidnsPath === undefined) throw invalid('pid namespace TARGET needs a running target container');
    ns.push({ type: 'pid', path: input.targetPidnsPath });
  } else if (pidMode !== NamespaceMode.NODE) {
    ns.push({ type: 'pid' });
  }
  return ns;
}

/** The path of the first string holding a NUL byte in value, if any. */
export function nulPathOf(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPathOf(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes('\0')) return `${path}.${JSON.stringify(key)}`;
      const found = nulPathOf(v, `${path}.${key}`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export function buildOciSpec(input: SpecInput): OciSpec {
  const { config, image, pod, host } = input;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const readonlyRootfs = sc?.readonlyRootfs ?? false;

  const caps = capabilitiesOf(
    sc?.capabilities?.addCapabilities ?? [],
    sc?.capabilities?.dropCapabilities ?? [],
    privileged,
    host.capabilities,
  );
  const ambient = (sc?.capabilities?.addAmbientCapabilities ?? []).map(capName).filter((c) => caps.includes(c));

  const mounts = defaultMounts(privileged);
  const podFile = (destination: string, source: string | undefined): void => {
    if (source === undefined) return;
    mounts.push({
      destination,
      type: 'bind',
      source,
      options: ['rbind', 'rprivate', readonlyRootfs ? 'ro' : 'rw'],
    });
  };
  podFile('/etc/hostname', pod.hostnamePath);
  podFile('/etc/hosts', pod.hostsPath);
  podFile('/etc/resolv.conf', pod.resolvConfPath);
  const shm = pod.hostIpc ? '/dev/shm' : pod.shmPath;
  if (shm !== undefined) {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: shm, options: ['rbind', 'rprivate', 'rw'] });
  }
  let rootfsPropagation: string | undefined;
  for (const m of config.mounts) {
    const destination = checkContainerPath(m.containerPath, 'mount container path');
    if (!m.hostPath.startsWith('/')) throw invalid(`mount host path "${m.hostPath}" must be absolute`);
    const propagation = propagationOf(m.propagation);
    if (propagation === 'rshared') rootfsPropagation = 'rshared';
    else if (propagation === 'rslave' && rootfsPropagation === undefined) rootfsPropagation = 'rslave';
    // A user mount replaces a default one at the same place (e.g. its own /etc/hosts).
    const existing = mounts.findIndex((d) => d.destination === destination);
    if (existing >= 0) mounts.splice(existing, 1);
    mounts.push({
      destination,
      type: 'bind',
      source: m.hostPath,
      options: ['rbind', propagation, m.readonly ? 'ro' : 'rw'],
    });
  }

  const oomScoreAdj = Number(config.linux?.resources?.oomScoreAdj ?? 0n);
  const workingDir = config.workingDir !== '' ? config.workingDir : image.WorkingDir || '/';
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: config.tty,
      user: {
        uid: input.user.uid,
        gid: input.user.gid,
        ...(input.user.additionalGids.length > 0 ? { additionalGids: [...input.user.additionalGids] } : {}),
      },
      args: processArgs(config, image),
      env: processEnv(config, image, pod.hostname),
      cwd: checkContainerPath(workingDir, 'working dir'),
      capabilities: {
        bounding: caps,
        effective: caps,
        permitted: caps,
        inheritable: ambient,
        ambient,
      },
      noNewPrivileges: sc?.noNewPrivs ?? false,
      oomScoreAdj: Math.max(oomScoreAdj, host.minOomScoreAdj),
    },
    root: { path: input.rootfs, readonly: readonlyRootfs },
    mounts,
    annotations: { 'io.kubernetes.cri.sandbox-id': pod.sandboxId, 'io.kubernetes.cri.container-type': 'container' },
    linux: {
      namespaces: namespacesOf(input),
      resources: resourcesOf(input, privileged),
      cgroupsPath: cgroupsPathOf(pod.cgroupParent, input.id, host.cgroupDriver),
      devices: privileged ? [...host.devices] : input.devices.map((d) => d.device),
      ...(privileged
        ? {}
        : {
            maskedPaths: sc?.maskedPaths.length ? [...sc.maskedPaths] : [...DEFAULT_MASKED_PATHS],
            readonlyPaths: sc?.readonlyPaths.length ? [...sc.readonlyPaths] : [...DEFAULT_READONLY_PATHS],
          }),
      ...(rootfsPropagation === undefined ? {} : { rootfsPropagation }),
    },
  };
  const seccomp = seccompOf(input, privileged);
  if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  const nul = nulPathOf(spec, 'spec');
  // C strings end at NUL: runc refuses them late and obscurely, or worse, truncates a path.
  if (nul !== undefined) throw invalid(`container config has a NUL byte in ${nul}`);
  return spec;
}
