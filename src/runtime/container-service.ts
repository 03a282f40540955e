/**
 * Containers: CreateContainer, Start, Stop, Remove, Status, List, ExecSync and ReopenContainerLog, with state in
 * SQLite and in memory (kubelet lists every second). The low-level work (conmon, runc) is behind
 * ContainerRuntime; the root filesystem is an active snapshot keyed by the container id.
 *
 * Crash safety as for pods: the record is written first (state `creating`, reserving the name); every resource
 * has a path derived from the id (<state>/containers/<id>/{rootfs,config.json}, snapshot key = id), and cleanup
 * releases all of them whether or not they exist. Exits are recorded by conmon in files, so a container that
 * exits while berthd is down is seen as exited at the next start.
 */
import type { InteractiveProcess } from '../base/interactive-process.js';
import { attachToMonitor } from './monitor-attach.js';
import type { MonitorAttachIo } from './monitor-attach.js';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { ContainerConfig, Signal, signalToJSON } from '../api/gen/cri.js';
import type { LinuxContainerResources } from '../api/gen/cri.js';
import { crashPoint } from '../base/crash-point.js';
import { BerthError, isBerthError } from '../base/errors.js';
import { writeFileAtomic } from '../base/fs.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/logger.js';
import type { ImageView } from '../images/index.js';
import type { Sandbox } from '../sandbox/index.js';
import type { Snapshotter } from '../snapshots/index.js';
import { CpuRateTracker, readNetDev } from '../stats/index.js';
import type { CgroupSample, CgroupStats, DiskUsage, InterfaceUsage } from '../stats/index.js';
import { chainIds } from '../snapshots/index.js';
import type { ContainerEvent, ContainerEventKind } from '../events/index.js';
import type { ContainerRecord, ContainerRepository, ContainerState } from '../store/index.js';
import type { ContainerExit, ContainerRuntime, ExecSyncResult, InteractiveExecRequest } from './container-runtime.js';
import { parseGroup, parsePasswd, resolveUser } from './image-user.js';
import type { ContainerLogFile } from './log-rotator.js';
import { buildOciSpec, cgroupsPathOf, computeResources, seccompProfileOf } from './oci-spec.js';
import type { HostFacts } from './oci-spec.js';
import type { OciDevice, OciSeccomp } from './oci-types.js';
import { StartupStates } from './startup-states.js';

export interface ContainerStatusFields {
  readonly pid: number;
  readonly startedAtNs: bigint;
  readonly finishedAtNs: bigint;
  readonly exitCode: number;
  /** Completed, Error, OOMKilled, or '' while not exited. */
  readonly reason: string;
  readonly message: string;
  /** Absolute path of the CRI log file, '' without one. */
  readonly logPath: string;
}

export interface Container {
  readonly id: string;
  readonly namespace: string;
  readonly sandboxId: string;
  readonly name: string;
  readonly config: ContainerConfig;
  readonly imageId: string;
  /** The image as the user named it (ImageSpec.image). */
  readonly imageRef: string;
  readonly runtimeHandler: string;
  /** Sent by StopContainer before SIGKILL. */
  readonly stopSignal: string;
  readonly createdAtNs: bigint;
  readonly state: ContainerState;
  readonly status: ContainerStatusFields;
}

export interface ContainerFilter {
  readonly id?: string;
  readonly sandboxId?: string;
  readonly state?: ContainerState;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ContainerUsage {
  readonly container: Container;
  /** undefined when the container has no cgroup (not running). */
  readonly cgroup: CgroupSample | undefined;
  readonly cpuNanoCores: bigint;
  readonly writableLayer: DiskUsage | undefined;
  readonly writableLayerMount: string;
}

/** What containers need of pods, images and snapshots: narrow, so the daemon can wire the real services. */
export interface ContainerDeps {
  readonly repo: ContainerRepository;
  readonly runtime: ContainerRuntime;
  readonly snapshotter: Pick<Snapshotter, 'prepare' | 'mountActive' | 'unmount' | 'removeActive' | 'root'>;
  /**
   * Writable-layer usage by snapshot key (= container id): the daemon wires a DiskUsageCache over the
   * snapshotter's usageOf, so kubelet's stats polls share walks instead of walking every layer per call.
   */
  readonly layerUsage: { get(key: string): Promise<DiskUsage>; invalidate(key: string): void };
  readonly cgroups: CgroupStats;
  readonly pods: {
    get(namespace: string, idOrPrefix: string): Sandbox;
    find(namespace: string, idOrPrefix: string): Sandbox | undefined;
  };
  readonly images: { find(namespace: string, refOrId: string): ImageView | undefined };
  readonly stateDir: string;
  readonly host: HostFacts;
  readonly log: Logger;
  readonly nowNs: () => bigint;
  /** Unmounts a path if it is a mount point (and everything under it). */
  readonly unmountAll: (path: string) => Promise<void>;
  readonly events?: { publish(event: ContainerEvent): void };
}

const ID_BYTES = 32;
const KILL_WAIT_MS = 10_000;
const REOPEN_POLL_MS = 20;
const REOPEN_POLLS = 250;
const EMPTY_STATUS: ContainerStatusFields = {
  pid: 0,
  startedAtNs: 0n,
  finishedAtNs: 0n,
  exitCode: 0,
  reason: '',
  message: '',
  logPath: '',
};

interface StoredStatus {
  pid?: number;
  startedAtNs?: string;
  finishedAtNs?: string;
  exitCode?: number;
  reason?: string;
  message?: string;
  logPath?: string;
  imageRef?: string;
  runtimeHandler?: string;
  stopSignal?: string;
}

export class ContainerService {
  private readonly containers = new Map<string, Container>();
  private readonly locks = new KeyedMutex<string>();
  private readonly cpuRates = new CpuRateTracker();
  /** Waiters for a container's exit (StopContainer). */
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  /**
   * Containers inside start(), and the STOPPED event of those whose process exited before start() published
   * STARTED (a command like `true` can exit before `runc start` returns): held back so every subscriber sees
   * STARTED first, as kubelet's evented PLEG expects.
   */
  private readonly starting = new Map<string, (() => void) | undefined>();

  private constructor(private readonly deps: ContainerDeps) {}

  static async open(deps: ContainerDeps): Promise<ContainerService> {
    const svc = new ContainerService(deps);
    await mkdir(deps.stateDir, { recursive: true, mode: 0o711 });
    deps.runtime.onExit((exit) => svc.recordExit(exit));
    const startup = new StartupStates(deps.runtime, deps.log);
    for (const record of deps.repo.all()) await svc.recover(record, startup);
    return svc;
  }

  async create(namespace: string, sandboxId: string, config: ContainerConfig): Promise<Container> {
    const pod = this.deps.pods.get(namespace, sandboxId);
    if (pod.state !== 'ready') {
      throw new BerthError(
        'FAILED_PRECONDITION',
        `pod sandbox ${pod.id} is not ready: cannot create a container in it`,
      );
    }
    const md = config.metadata;
    if (md === undefined || md.name === '')
      throw new BerthError('INVALID_ARGUMENT', 'container config needs metadata.name');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(md.name) || md.name.length > 253) {
      throw new BerthError('INVALID_ARGUMENT', `container name "${md.name}" must be letters, digits, ".", "_" or "-"`);
    }
    const imageName = config.image?.image ?? '';
    if (imageName === '') throw new BerthError('INVALID_ARGUMENT', 'container config needs an image');
    const image = this.deps.images.find(namespace, imageName);
    if (image === undefined) throw new BerthError('NOT_FOUND', `image "${imageName}" not found: pull it first`);
    const logPath = this.logPathOf(pod, config.logPath);
    const sc = config.linux?.securityContext;
    if (sc?.runAsGroup !== undefined && sc.runAsUser === undefined && sc.runAsUsername === '') {
      throw new BerthError('INVALID_ARGUMENT', 'runAsGroup needs runAsUser or runAsUsername (as kubelet validates it)');
    }
    seccompProfileOf(sc); // an unknown profile name is refused before anything is created
    const id = randomBytes(ID_BYTES).toString('hex');
    const name = `${md.name}_${pod.spec.name}_${pod.spec.namespace}_${pod.spec.uid}_${md.attempt}`;
    return this.locks.run(id, async () => {
      let container: Container = {
        id,
        namespace,
        sandboxId: pod.id,
        name,
        config,
        imageId: image.id,
        imageRef: imageName,
        runtimeHandler: pod.spec.runtimeHandler,
        stopSignal: stopSignalOf(config, image.config.config?.StopSignal),
        createdAtNs: this.deps.nowNs(),
        state: 'creating',
        status: { ...EMPTY_STATUS, logPath },
      };
      this.deps.repo.insert(this.recordOf(container)); // reserves the name, or ALREADY_EXISTS
      this.containers.set(id, container);
      crashPoint('container.create.after-record');
      try {
        const { pid } = await this.makeContainer(container, pod, image);
        crashPoint('container.create.before-created');
        container = this.save({ ...container, state: 'created', status: { ...container.status, pid } });
        this.deps.log.info({ container: id, name, sandbox: pod.id }, 'container created');
        this.emit('created', container);
        return container;
      } catch (err) {
        await this.destroy(container).catch((cleanupErr: unknown) =>
          this.deps.log.error({ err: cleanupErr, container: id }, 'cleanup after a failed CreateContainer failed'),
        );
        throw err;
      }
    });
  }

  async start(namespace: string, idOrPrefix: string): Promise<Container> {
    const id = this.get(namespace, idOrPrefix).id;
    return this.locks.run(id, async () => {
      const c = this.mustHave(id);
      if (c.state !== 'created') {
        throw new BerthError('FAILED_PRECONDITION', `container ${id} is ${c.state}, not created: it cannot be started`);
      }
      // The start time is stored before the runtime starts the process: if berthd dies in between, recovery
      // finds the container running (or exited) with its real start time, not 0 (crash point below).
      const startedAtNs = this.deps.nowNs();
      this.save({ ...c, status: { ...c.status, startedAtNs } });
      crashPoint('container.start.before-runtime-start');
      this.starting.set(id, undefined);
      try {
        try {
          await this.deps.runtime.start(id, c.runtimeHandler);
        } catch (err) {
          const failed = this.mustHave(id);
          if (failed.state === 'created') this.save({ ...failed, status: { ...failed.status, startedAtNs: 0n } });
          throw err;
        }
        crashPoint('container.start.after-runtime-start');
        const now = this.mustHave(id); // a fast process may have exited already
        const started = this.save({ ...now, state: now.state === 'exited' ? 'exited' : 'running' });
        this.emit('started', started);
        return started;
      } finally {
        const heldStop = this.starting.get(id);
        this.starting.delete(id);
        heldStop?.();
      }
    });
  }

  /** Sends the stop signal, then SIGKILL after timeoutSeconds; idempotent for stopped containers. */
  async stop(namespace: string, idOrPrefix: string, timeoutSeconds: number): Promise<Container> {
    const id = this.get(namespace, idOrPrefix).id;
    return this.locks.run(id, () => this.stopLocked(id, timeoutSeconds));
  }

  /** Kills a running container and removes it and everything on disk; an unknown id is not an error. */
  async remove(namespace: string, idOrPrefix: string): Promise<void> {
    const found = this.find(namespace, idOrPrefix);
    if (found === undefined) return;
    await this.locks.run(found.id, async () => {
      const c = this.containers.get(found.id);
      if (c === undefined) return;
      if (c.state === 'running' || c.state === 'created') await this.stopLocked(c.id, 0);
      crashPoint('container.remove.after-stop');
      await this.deps.runtime.delete(c.id, c.runtimeHandler);
      crashPoint('container.remove.after-delete');
      await this.dropLeftovers(c);
      this.deps.log.info({ container: c.id }, 'container removed');
    });
  }

  /** For pods: stop (StopPodSandbox) and remove (RemovePodSandbox) all of a pod's containers. */
  async stopAll(sandboxId: string, timeoutSeconds = 0): Promise<void> {
    const mine = [...this.containers.values()].filter((c) => c.sandboxId === sandboxId);
    await Promise.all(mine.map((c) => this.locks.run(c.id, () => this.stopLocked(c.id, timeoutSeconds))));
  }

  async removeAll(sandboxId: string): Promise<void> {
    const mine = [...this.containers.values()].filter((c) => c.sandboxId === sandboxId);
    await Promise.all(mine.map((c) => this.remove(c.namespace, c.id)));
  }

  async execSync(
    namespace: string,
    idOrPrefix: string,
    cmd: readonly string[],
    timeoutSeconds: number,
  ): Promise<ExecSyncResult> {
    const c = this.get(namespace, idOrPrefix);
    if (c.state !== 'running') throw new BerthError('FAILED_PRECONDITION', `container ${c.id} is not running`);
    if (cmd.length === 0) throw new BerthError('INVALID_ARGUMENT', 'ExecSync needs a command');
    return this.deps.runtime.execSync(c.id, c.runtimeHandler, cmd, timeoutSeconds > 0 ? timeoutSeconds * 1000 : 0);
  }

  /** Streaming exec: a process in a running container whose stdio the caller relays and ends. */
  async execInteractive(
    namespace: string,
    idOrPrefix: string,
    cmd: readonly string[],
    req: InteractiveExecRequest,
  ): Promise<InteractiveProcess> {
    const c = this.get(namespace, idOrPrefix);
    if (c.state !== 'running') throw new BerthError('FAILED_PRECONDITION', `container ${c.id} is not running`);
    if (cmd.length === 0) throw new BerthError('INVALID_ARGUMENT', 'exec needs a command');
    return this.deps.runtime.execInteractive(c.id, c.runtimeHandler, cmd, req);
  }

  /**
   * Checks an Attach request against the container: it must be created or running, and stdin/tty must match
   * its config. A created container can be attached to (as containerd allows): conmon serves the attach
   * socket from create on, so a client that attaches before StartContainer sees all of the output.
   */
  checkAttach(
    namespace: string,
    idOrPrefix: string,
    req: { readonly stdin: boolean; readonly tty: boolean },
  ): Container {
    const c = this.get(namespace, idOrPrefix);
    checkAttachable(c);
    if (req.stdin && !c.config.stdin) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${c.id} was created without stdin: attach cannot write to it`,
      );
    }
    if (req.tty !== c.config.tty) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `attach asked for tty=${String(req.tty)} but container ${c.id} was created with tty=${String(c.config.tty)}`,
      );
    }
    return c;
  }

  /**
   * Relays the stdio of a created or running container's main process (through its monitor) until it ends
   * or detaches.
   */
  async attach(namespace: string, idOrPrefix: string, io: MonitorAttachIo): Promise<void> {
    const c = this.get(namespace, idOrPrefix);
    checkAttachable(c);
    await attachToMonitor(this.deps.runtime.attachSocketPath(c.id), io);
  }

  /** The terminal size of a container created with a TTY (attach's resize). */
  async resizeTerminal(namespace: string, idOrPrefix: string, cols: number, rows: number): Promise<void> {
    const c = this.get(namespace, idOrPrefix);
    if (!c.config.tty) return;
    await this.deps.runtime.resizeTerminal(c.id, cols, rows);
  }

  /** UpdateContainerResources: new cgroup limits for a created or running container, kept in its config. */
  async updateResources(namespace: string, idOrPrefix: string, resources: LinuxContainerResources): Promise<Container> {
    const id = this.get(namespace, idOrPrefix).id;
    return this.locks.run(id, async () => {
      const c = this.mustHave(id);
      if (c.state !== 'created' && c.state !== 'running') {
        throw new BerthError('FAILED_PRECONDITION', `container ${id} is ${c.state}: its resources cannot change`);
      }
      await this.deps.runtime.update(id, c.runtimeHandler, computeResources(resources));
      crashPoint('container.update.after-runtime');
      const linux = { ...(c.config.linux ?? { resources: undefined, securityContext: undefined }), resources };
      const updated = { ...c, config: { ...c.config, linux } };
      this.deps.repo.updateConfig(id, JSON.stringify(ContainerConfig.toJSON(updated.config)));
      this.containers.set(id, updated);
      return updated;
    });
  }

  async reopenLog(namespace: string, idOrPrefix: string): Promise<void> {
    const c = this.get(namespace, idOrPrefix);
    if (c.state !== 'running') throw new BerthError('FAILED_PRECONDITION', `container ${c.id} is not running`);
    await this.deps.runtime.reopenLog(c.id);
    // conmon reopens asynchronously; kubelet (and critest) expect the new file once the call returns.
    if (c.status.logPath === '') return;
    for (let i = 0; i < REOPEN_POLLS; i++) {
      if (
        await stat(c.status.logPath).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, REOPEN_POLL_MS));
    }
    throw new BerthError('DEADLINE_EXCEEDED', `conmon did not reopen ${c.status.logPath} within 5s`);
  }

  get(namespace: string, idOrPrefix: string): Container {
    const found = this.find(namespace, idOrPrefix);
    if (found === undefined) throw new BerthError('NOT_FOUND', `container "${idOrPrefix}" not found`);
    return found;
  }

  find(namespace: string, idOrPrefix: string): Container | undefined {
    if (idOrPrefix === '') throw new BerthError('INVALID_ARGUMENT', 'container id is required');
    const exact = this.containers.get(idOrPrefix);
    if (exact !== undefined) return exact.namespace === namespace && exact.state !== 'creating' ? exact : undefined;
    const matches = [...this.containers.values()].filter(
      (c) => c.namespace === namespace && c.state !== 'creating' && c.id.startsWith(idOrPrefix),
    );
    if (matches.length > 1) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container id prefix "${idOrPrefix}" matches ${matches.length} containers`,
      );
    }
    return matches[0];
  }

  list(namespace: string, filter: ContainerFilter = {}): Container[] {
    // kubelet lists every second: one pass over the map, the label pairs taken apart once (not per container).
    const labels = Object.entries(filter.labels ?? {});
    const out: Container[] = [];
    for (const c of this.containers.values()) {
      if (c.namespace !== namespace || c.state === 'creating') continue;
      if (filter.id && !c.id.startsWith(filter.id)) continue;
      if (filter.sandboxId && !c.sandboxId.startsWith(filter.sandboxId)) continue;
      if (filter.state !== undefined && c.state !== filter.state) continue;
      if (labels.some(([k, v]) => c.config.labels[k] !== v)) continue;
      out.push(c);
    }
    return out;
  }

  /** CPU, memory and writable-layer usage of the containers the filter selects (CRI ListContainerStats). */
  async usage(namespace: string, filter: ContainerFilter = {}): Promise<ContainerUsage[]> {
    const list = this.list(namespace, filter);
    const now = this.deps.nowNs();
    const out = await Promise.all(
      list.map(async (c): Promise<ContainerUsage> => {
        const pod = this.deps.pods.find(c.namespace, c.sandboxId);
        const cgroupsPath = cgroupsPathOf(pod?.spec.cgroupParent ?? '', c.id, this.deps.host.cgroupDriver);
        const cgroup =
          c.state === 'running'
            ? await this.deps.cgroups.read(cgroupsPath, this.deps.host.cgroupDriver, now).catch(() => undefined)
            : undefined;
        const writableLayer = await this.deps.layerUsage.get(c.id).catch(() => undefined);
        return {
          container: c,
          cgroup,
          cpuNanoCores: cgroup === undefined ? 0n : this.cpuRates.rate(c.id, cgroup),
          writableLayer,
          writableLayerMount: this.deps.snapshotter.root,
        };
      }),
    );
    this.cpuRates.retain(new Set(this.containers.keys()));
    return out;
  }

  /**
   * A pod's usage (PodSandboxStats): its containers' usage and its network counters, read through a running
   * container of the pod (none running: no network figures, as the pod has nothing to measure).
   */
  async podUsage(
    namespace: string,
    sandboxId: string,
  ): Promise<{ readonly containers: ContainerUsage[]; readonly interfaces: InterfaceUsage[] | undefined }> {
    const containers = await this.usage(namespace, { sandboxId });
    const pod = this.deps.pods.find(namespace, sandboxId);
    const running = containers.find((u) => u.container.state === 'running' && u.container.status.pid > 0);
    const interfaces =
      pod === undefined || pod.spec.hostNetwork || running === undefined
        ? undefined
        : await readNetDev(running.container.status.pid);
    return { containers, interfaces };
  }

  /** Running containers with a CRI log file, and their pods' labels: what the log rotator checks. */
  runningLogs(): ContainerLogFile[] {
    return [...this.containers.values()]
      .filter((c) => c.state === 'running' && c.status.logPath !== '')
      .map((c) => ({
        id: c.id,
        namespace: c.namespace,
        logPath: c.status.logPath,
        podLabels: this.deps.pods.find(c.namespace, c.sandboxId)?.spec.labels ?? {},
      }));
  }

  /** The container whose root filesystem the active snapshot `key` is (the key is its id), in any namespace. */
  snapshotOwner(key: string): Container | undefined {
    return this.containers.get(key);
  }

  /**
   * Removes an active snapshot no container owns (one a crash or an operator left; `berth snapshots rm`).
   * FAILED_PRECONDITION for a container's own: removing the container removes it.
   */
  async removeLeftoverSnapshot(key: string): Promise<void> {
    await this.locks.run(key, async () => {
      const owner = this.containers.get(key);
      if (owner !== undefined) {
        throw new BerthError(
          'FAILED_PRECONDITION',
          `snapshot "${key}" is the root filesystem of container "${owner.config.metadata?.name ?? owner.id}" in namespace ${owner.namespace}: remove the container instead`,
        );
      }
      await this.deps.snapshotter.removeActive(key);
    });
  }

  /** Containers per state in every namespace, each state present (metrics). */
  countByState(): Record<ContainerState, number> {
    const counts: Record<ContainerState, number> = { creating: 0, created: 0, running: 0, exited: 0 };
    for (const c of this.containers.values()) counts[c.state]++;
    return counts;
  }

  /** Image ids some container uses: image prune keeps them. */
  imagesInUse(): Set<string> {
    return new Set([...this.containers.values()].map((c) => c.imageId));
  }

  private dirOf(id: string): string {
    return join(this.deps.stateDir, id);
  }

  /** <log_directory>/<log_path>: both from kubelet; a path escaping the pod's log directory is refused. */
  private logPathOf(pod: Sandbox, logPath: string): string {
    if (logPath === '') return '';
    if (pod.spec.logDirectory === '') {
      throw new BerthError('INVALID_ARGUMENT', 'container log_path needs the pod to have a log_directory');
    }
    if (isAbsolute(logPath) || normalize(logPath).startsWith('..') || logPath.includes('\0')) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container log_path "${logPath}" must be relative to the pod log directory`,
      );
    }
    const full = join(pod.spec.logDirectory, logPath);
    // The kernel's limits (NAME_MAX, PATH_MAX): past them conmon fails late with ENAMETOOLONG.
    if (Buffer.byteLength(full) > 4095 || full.split('/').some((part) => Buffer.byteLength(part) > 255)) {
      throw new BerthError('INVALID_ARGUMENT', `container log path is too long (${Buffer.byteLength(full)} bytes)`);
    }
    return full;
  }

  private async makeContainer(c: Container, pod: Sandbox, image: ImageView): Promise<{ pid: number }> {
    const dir = this.dirOf(c.id);
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs, { recursive: true, mode: 0o711 });
    const chain = chainIds(image.config.rootfs.diff_ids);
    await this.deps.snapshotter.prepare(c.id, chain.at(-1) ?? null);
    crashPoint('container.create.after-prepare');
    await this.deps.snapshotter.mountActive(c.id, rootfs);
    crashPoint('container.create.after-snapshot');

    const sc = c.config.linux?.securityContext;
    const [passwd, group] = await Promise.all([
      readImageFile(rootfs, 'etc/passwd'),
      readImageFile(rootfs, 'etc/group'),
    ]);
    const user = resolveUser(
      {
        imageUser: image.config.config?.User ?? '',
        ...(sc?.runAsUser ? { runAsUser: Number(sc.runAsUser.value) } : {}),
        ...(sc?.runAsGroup ? { runAsGroup: Number(sc.runAsGroup.value) } : {}),
        ...(sc?.runAsUsername ? { runAsUsername: sc.runAsUsername } : {}),
        supplementalGroups: (sc?.supplementalGroups ?? []).map(Number),
      },
      parsePasswd(passwd),
      parseGroup(group),
    );
    const devices = await Promise.all(
      c.config.devices.map((d) => resolveDevice(d.hostPath, d.containerPath, d.permissions)),
    );
    for (const m of c.config.mounts) await ensureHostPath(m.hostPath);
    const localhostSeccomp = await readLocalhostSeccomp(seccompProfileOf(sc));
    if (c.status.logPath !== '') await mkdir(dirname(c.status.logPath), { recursive: true, mode: 0o755 });

    const net = pod.network;
    const spec = buildOciSpec({
      id: c.id,
      config: c.config,
      image: image.config.config ?? {},
      user,
      rootfs,
      pod: {
        sandboxId: pod.id,
        hostname: await readFile(net.files?.hostname ?? '', 'utf8').then(
          (h) => h.trim(),
          () => '',
        ),
        ...(net.netns ? { netnsPath: net.netns } : {}),
        ...(net.ipcns ? { ipcnsPath: net.ipcns } : {}),
        ...(net.utsns ? { utsnsPath: net.utsns } : {}),
        ...(net.pidInit ? { pidnsPath: `/proc/${net.pidInit}/ns/pid` } : {}),
        hostNetwork: pod.spec.hostNetwork,
        hostIpc: pod.spec.hostIpc,
        ...(net.shm ? { shmPath: net.shm } : {}),
        ...(net.files
          ? { hostnamePath: net.files.hostname, hostsPath: net.files.hosts, resolvConfPath: net.files.resolvConf }
          : {}),
        cgroupParent: pod.spec.cgroupParent,
      },
      host: this.deps.host,
      devices,
      ...(localhostSeccomp ? { localhostSeccomp } : {}),
    });
    await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(spec), 0o600);
    crashPoint('container.create.after-bundle');
    const created = await this.deps.runtime.create({
      id: c.id,
      bundleDir: dir,
      runtimeHandler: c.runtimeHandler,
      logPath: c.status.logPath,
      tty: c.config.tty,
      stdin: c.config.stdin,
      stdinOnce: c.config.stdinOnce,
    });
    crashPoint('container.create.after-conmon');
    return created;
  }

  private async stopLocked(id: string, timeoutSeconds: number): Promise<Container> {
    const c = this.mustHave(id);
    if (c.state === 'exited' || c.state === 'creating') return c;
    const exited = this.waitForExit(id);
    const first = timeoutSeconds > 0 ? c.stopSignal : 'SIGKILL';
    await this.deps.runtime.kill(id, c.runtimeHandler, first);
    crashPoint('container.stop.after-kill');
    if (first !== 'SIGKILL') {
      if (await exited.within(timeoutSeconds * 1000)) return this.mustHave(id);
      await this.deps.runtime.kill(id, c.runtimeHandler, 'SIGKILL');
    }
    if (!(await exited.within(KILL_WAIT_MS))) {
      // No exit event (a conmon that died, say): trust the runtime's own view.
      const st = await this.deps.runtime.state(id, c.runtimeHandler).catch(() => undefined);
      if (st !== undefined && st.status !== 'stopped') {
        throw new BerthError(
          'DEADLINE_EXCEEDED',
          `container ${id} did not exit within ${KILL_WAIT_MS / 1000}s of SIGKILL`,
        );
      }
      const exit = (await this.deps.runtime.exitOf(id)) ?? {
        id,
        exitCode: 137,
        finishedAtNs: this.deps.nowNs(),
        oomKilled: false,
      };
      this.recordExit(exit);
    }
    return this.mustHave(id);
  }

  private waitForExit(id: string): { within(ms: number): Promise<boolean> } {
    let done = this.containers.get(id)?.state === 'exited';
    const waiters = this.exitWaiters.get(id) ?? [];
    this.exitWaiters.set(id, waiters);
    const promise = new Promise<void>((resolve) => {
      waiters.push(() => {
        done = true;
        resolve();
      });
    });
    return {
      within: async (ms) => {
        if (done) return true;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
        });
        await Promise.race([promise, timeout]);
        clearTimeout(timer);
        return done;
      },
    };
  }

  private recordExit(exit: ContainerExit): void {
    const c = this.containers.get(exit.id);
    if (c === undefined || c.state === 'exited') return;
    const reason = exit.oomKilled ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
    crashPoint('container.exit.before-record');
    this.save({
      ...c,
      state: 'exited',
      status: { ...c.status, exitCode: exit.exitCode, finishedAtNs: exit.finishedAtNs, reason, pid: 0 },
    });
    this.deps.log.info({ container: c.id, exitCode: exit.exitCode, reason }, 'container exited');
    if (this.starting.has(c.id)) this.starting.set(c.id, () => this.emit('stopped', c, exit.exitCode));
    else this.emit('stopped', c, exit.exitCode);
    for (const wake of this.exitWaiters.get(exit.id) ?? []) wake();
    this.exitWaiters.delete(exit.id);
  }

  /** Runtime state, rootfs mount, snapshot, bundle dir and record: each step idempotent. */
  private async destroy(c: Container): Promise<void> {
    await this.deps.runtime.delete(c.id, c.runtimeHandler);
    await this.dropLeftovers(c);
  }

  /** What is left once the runtime forgot the container: rootfs mount, snapshot, bundle dir and record. */
  private async dropLeftovers(c: Container): Promise<void> {
    const dir = this.dirOf(c.id);
    await this.deps.unmountAll(join(dir, 'rootfs'));
    crashPoint('container.remove.after-unmount');
    await this.deps.snapshotter.removeActive(c.id);
    crashPoint('container.remove.after-snapshot');
    this.deps.layerUsage.invalidate(c.id);
    await rm(dir, { recursive: true, force: true });
    crashPoint('container.remove.before-record');
    this.deps.repo.delete(c.id);
    this.containers.delete(c.id);
    if (c.state !== 'creating') this.emit('deleted', c);
  }

  private emit(kind: ContainerEventKind, c: Container, exitCode?: number): void {
    const events = this.deps.events;
    if (events === undefined) return;
    const pod = this.deps.pods.find(c.namespace, c.sandboxId)?.spec;
    events.publish({
      kind,
      namespace: c.namespace,
      containerId: c.id,
      sandboxId: c.sandboxId,
      atNs: this.deps.nowNs(),
      name: c.config.metadata?.name ?? '',
      pod: pod === undefined ? '' : `${pod.namespace}/${pod.name}`,
      ...(exitCode === undefined ? {} : { exitCode }),
    });
  }

  private async recover(record: ContainerRecord, startup: StartupStates): Promise<void> {
    let c: Container;
    try {
      c = this.fromRecord(record);
    } catch (err) {
      this.deps.log.error({ err, container: record.id }, 'container record is unreadable; leaving it out');
      return;
    }
    this.containers.set(c.id, c);
    if (c.state === 'creating') {
      this.deps.log.warn({ container: c.id }, 'container was being created when berthd stopped; removing it');
      await this.destroy(c).catch((err: unknown) =>
        this.deps.log.error({ err, container: c.id }, 'cleanup of a half-created container failed'),
      );
      return;
    }
    if (c.state === 'created' || c.state === 'running') {
      const exit = await this.deps.runtime.exitOf(c.id);
      if (exit !== undefined) {
        this.recordExit(exit);
        return;
      }
      const st = await startup.of(c.id, c.runtimeHandler);
      if (st === undefined || st.status === 'stopped' || st.status === 'unknown') {
        // Gone without an exit file (the node rebooted, or conmon was killed): report it as failed.
        this.recordExit({ id: c.id, exitCode: 255, finishedAtNs: this.deps.nowNs(), oomKilled: false });
        this.save({
          ...this.mustHave(c.id),
          status: { ...this.mustHave(c.id).status, message: 'container disappeared while berthd was down' },
        });
      } else if (st.status === 'running' && c.state === 'created') {
        // berthd died inside StartContainer after the runtime started it; start() stored the time first.
        const startedAtNs = c.status.startedAtNs > 0n ? c.status.startedAtNs : this.deps.nowNs();
        this.save({ ...c, state: 'running', status: { ...c.status, pid: st.pid, startedAtNs } });
      } else if (st.status === 'created' && c.status.startedAtNs > 0n) {
        // ... or before the runtime started it: not started after all.
        this.save({ ...c, status: { ...c.status, startedAtNs: 0n } });
      }
    }
  }

  private mustHave(id: string): Container {
    const c = this.containers.get(id);
    if (c === undefined) throw new BerthError('NOT_FOUND', `container "${id}" not found`);
    return c;
  }

  private save(c: Container): Container {
    this.deps.repo.update(c.id, c.state, JSON.stringify(storedStatus(c)));
    this.containers.set(c.id, c);
    return c;
  }

  private recordOf(c: Container): ContainerRecord {
    return {
      id: c.id,
      namespace: c.namespace,
      sandboxId: c.sandboxId,
      name: c.name,
      state: c.state,
      imageId: c.imageId,
      createdAtNs: c.createdAtNs,
      config: JSON.stringify(ContainerConfig.toJSON(c.config)),
      status: JSON.stringify(storedStatus(c)),
    };
  }

  private fromRecord(r: ContainerRecord): Container {
    const s = JSON.parse(r.status) as StoredStatus;
    return {
      id: r.id,
      namespace: r.namespace,
      sandboxId: r.sandboxId,
      name: r.name,
      config: ContainerConfig.fromJSON(JSON.parse(r.config)),
      imageId: r.imageId,
      imageRef: s.imageRef ?? r.imageId,
      runtimeHandler: s.runtimeHandler ?? 'runc',
      stopSignal: s.stopSignal ?? 'SIGTERM',
      createdAtNs: r.createdAtNs,
      state: r.state,
      status: {
        pid: s.pid ?? 0,
        startedAtNs: BigInt(s.startedAtNs ?? '0'),
        finishedAtNs: BigInt(s.finishedAtNs ?? '0'),
        exitCode: s.exitCode ?? 0,
        reason: s.reason ?? '',
        message: s.message ?? '',
        logPath: s.logPath ?? '',
      },
    };
  }
}

function storedStatus(c: Container): StoredStatus {
  return {
    pid: c.status.pid,
    startedAtNs: c.status.startedAtNs.toString(),
    finishedAtNs: c.status.finishedAtNs.toString(),
    exitCode: c.status.exitCode,
    reason: c.status.reason,
    message: c.status.message,
    logPath: c.status.logPath,
    imageRef: c.imageRef,
    runtimeHandler: c.runtimeHandler,
    stopSignal: c.stopSignal,
  };
}

/** Attach needs the container's monitor: there from create until the container exits. */
function checkAttachable(c: Container): void {
  if (c.state !== 'created' && c.state !== 'running') {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `container ${c.id} is ${c.state}: only a created or running one can be attached to`,
    );
  }
}

/** The CRI stop signal if set, else the image's StopSignal, else SIGTERM (as containerd decides it). */
export function stopSignalOf(config: ContainerConfig, imageStopSignal: string | undefined): string {
  if (config.stopSignal !== Signal.SIGNAL_RUNTIME_DEFAULT) {
    const name = signalToJSON(config.stopSignal).replace(/^SIGNAL_/, '');
    if (/^SIG[A-Z0-9+-]+$/.test(name)) return name;
  }
  const image = (imageStopSignal ?? '').toUpperCase();
  if (/^\d+$/.test(image)) return image;
  if (/^(SIG)?[A-Z0-9+-]+$/.test(image) && image !== '') return image.startsWith('SIG') ? image : `SIG${image}`;
  return 'SIGTERM';
}

async function readImageFile(rootfs: string, rel: string): Promise<string> {
  // The container's own /etc files, read through the mounted rootfs; a symlink is not followed out of it.
  const path = join(rootfs, rel);
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined || !st.isFile() || st.size > 4 * 1024 * 1024) return '';
  return readFile(path, 'utf8');
}

async function resolveDevice(hostPath: string, containerPath: string, permissions: string) {
  if (!isAbsolute(hostPath) || !isAbsolute(containerPath)) {
    throw new BerthError('INVALID_ARGUMENT', `device paths must be absolute (${hostPath} -> ${containerPath})`);
  }
  if (!/^[rwm]{1,3}$/.test(permissions || 'rwm')) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `device ${hostPath}: permissions "${permissions}" must be made of r, w, m`,
    );
  }
  const st = await stat(hostPath).catch(() => undefined);
  if (st === undefined || !(st.isCharacterDevice() || st.isBlockDevice())) {
    throw new BerthError('INVALID_ARGUMENT', `device ${hostPath} is not a device node on this host`);
  }
  const rdev = BigInt(st.rdev);
  const device: OciDevice = {
    path: containerPath,
    type: st.isBlockDevice() ? 'b' : 'c',
    major: Number((rdev >> 8n) & 0xfffn),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n)),
    fileMode: st.mode & 0o777,
    uid: 0,
    gid: 0,
  };
  return { device, permissions: permissions || 'rwm' };
}

/** A missing bind-mount source becomes an empty directory, as containerd does (kubelet expects it). */
async function ensureHostPath(hostPath: string): Promise<void> {
  if (!isAbsolute(hostPath)) return; // refused with a clear error by the spec builder
  const st = await lstat(hostPath).catch(() => undefined);
  if (st === undefined) await mkdir(hostPath, { recursive: true, mode: 0o755 });
}

async function readLocalhostSeccomp(profile: ReturnType<typeof seccompProfileOf>): Promise<OciSeccomp | undefined> {
  if (profile.kind !== 'localhost') return undefined;
  const path = profile.path;
  if (!isAbsolute(path)) {
    throw new BerthError('INVALID_ARGUMENT', `seccomp profile "${path}" must be an absolute path on the node`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BerthError(
      'NOT_FOUND',
      `seccomp profile ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  try {
    return JSON.parse(text) as OciSeccomp;
  } catch (err) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `seccomp profile ${path} is not JSON: ${isBerthError(err) ? err.message : String(err)}`,
    );
  }
}
