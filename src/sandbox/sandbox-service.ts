/**
 * Pod sandboxes: RunPodSandbox, Stop, Remove, Status and List, with their state in SQLite and in memory
 * (List is polled every second by kubelet and never touches the disk).
 *
 * Crash safety: the record is written first, in state `creating`, reserving the name; every resource a sandbox
 * holds has a path derived from its id (<state>/sandboxes/<id>/{net,ipc,uts,shm}, <root>/sandboxes/<id>/), and
 * teardown releases all of them whether or not they exist. So a sandbox half-created when berthd died is torn
 * down at the next start, and Stop/Remove can always finish what a crash interrupted. Stop and Remove mark the pod
 * not ready (with isReleasePending) before they release anything, so a pod whose teardown a crash cut off is
 * never listed ready without its network; the next start finishes the release.
 */
import { randomBytes } from 'node:crypto';
import { hostname as nodeHostname } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PodSandboxConfig } from '../api/gen/cri.js';
import { crashPoint } from '../base/crash-point.js';
import { BerthError } from '../base/errors.js';
import { KeyedMutex } from '../base/keyed-mutex.js';
import type { Logger } from '../base/logger.js';
import type { EventActions, EventSink } from '../events/index.js';
import type { SandboxRecord, SandboxRepository, SandboxState } from '../store/index.js';
import { writePodFiles } from './pod-files.js';
import type { PodFiles } from './pod-files.js';
import type { PinnedNamespaces, PodNamespaces } from './pod-namespaces.js';
import { bandwidthOf } from './pod-network.js';
import type { PodNetwork, PodNetworkRequest } from './pod-network.js';
import { sandboxSpecOf } from './sandbox-spec.js';
import type { SandboxSpec, SpecContext } from './sandbox-spec.js';

export interface SandboxNetwork {
  readonly netns: string | undefined;
  readonly ipcns: string | undefined;
  readonly utsns: string | undefined;
  /** The init of the pod's shared PID namespace (pid: POD), 0 without one. */
  readonly pidInit?: number;
  /** The pod's /dev/shm (a tmpfs), or undefined with the node's IPC namespace. */
  readonly shm: string | undefined;
  readonly ips: readonly string[];
  readonly files: PodFiles | undefined;
  /** Set while Stop or Remove releases the network and namespaces: a crash then leaves it for recovery. */
  readonly isReleasePending?: boolean;
}

export interface Sandbox {
  readonly id: string;
  readonly namespace: string;
  readonly spec: SandboxSpec;
  readonly config: PodSandboxConfig;
  readonly createdAtNs: bigint;
  readonly state: SandboxState;
  readonly network: SandboxNetwork;
}

export interface SandboxFilter {
  readonly id?: string;
  readonly state?: 'ready' | 'notready';
  readonly labels?: Readonly<Record<string, string>>;
}

/** What stopping and removing a pod asks of its containers (issue #5 provides it). */
export interface PodContainers {
  stopAll(sandboxId: string): Promise<void>;
  removeAll(sandboxId: string): Promise<void>;
}

export interface SandboxServiceDeps {
  readonly repo: SandboxRepository;
  readonly namespaces: PodNamespaces;
  /** undefined: no CNI; only host-network pods can run. */
  readonly network: PodNetwork | undefined;
  readonly rootDir: string;
  readonly stateDir: string;
  readonly specContext: SpecContext;
  readonly log: Logger;
  readonly nowNs: () => bigint;
  readonly containers?: PodContainers;
  /** `berth events`: pod created, stopped, removed. */
  readonly events?: EventSink;
  readonly nodeHostname?: string;
  readonly hostEtc?: string;
}

const NO_NETWORK: SandboxNetwork = {
  netns: undefined,
  ipcns: undefined,
  utsns: undefined,
  shm: undefined,
  ips: [],
  files: undefined,
};
const ID_BYTES = 32;

export class SandboxService {
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly locks = new KeyedMutex<string>();

  private constructor(private readonly deps: SandboxServiceDeps) {}

  /** Loads the records, finishes the teardown of sandboxes a crash left in `creating`, and checks the rest. */
  static async open(deps: SandboxServiceDeps): Promise<SandboxService> {
    const svc = new SandboxService(deps);
    await mkdir(join(deps.rootDir), { recursive: true, mode: 0o711 });
    await mkdir(join(deps.stateDir), { recursive: true, mode: 0o711 });
    const records = deps.repo.all();
    // One read of the mount table for all pods: one per namespace file made startup quadratic in the number of
    // pods (each read parses every pod's mounts; issue #7).
    const mounted = records.some((r) => r.state === 'ready') ? await deps.namespaces.mountedPaths() : new Set<string>();
    for (const record of records) await svc.recover(record, mounted);
    return svc;
  }

  async run(namespace: string, config: PodSandboxConfig, runtimeHandler: string): Promise<Sandbox> {
    const spec = sandboxSpecOf(config, runtimeHandler, this.deps.specContext);
    if (!spec.hostNetwork && this.deps.network === undefined) {
      throw new BerthError('FAILED_PRECONDITION', 'pod network is not ready: no CNI configuration (see berth info)');
    }
    const id = randomBytes(ID_BYTES).toString('hex');
    return this.locks.run(id, async () => {
      let sandbox: Sandbox = {
        id,
        namespace,
        spec,
        config,
        createdAtNs: this.deps.nowNs(),
        state: 'creating',
        network: NO_NETWORK,
      };
      this.deps.repo.insert(this.recordOf(sandbox)); // reserves the name, or ALREADY_EXISTS
      this.sandboxes.set(id, sandbox);
      crashPoint('sandbox.run.after-record');
      try {
        sandbox = await this.setUp(sandbox);
        crashPoint('sandbox.run.before-ready');
        sandbox = this.save({ ...sandbox, state: 'ready' });
        this.deps.log.info({ sandbox: id, name: spec.reservedName, ips: sandbox.network.ips }, 'pod sandbox ready');
        this.emit('created', sandbox);
        return sandbox;
      } catch (err) {
        await this.destroy(sandbox).catch((cleanupErr: unknown) =>
          this.deps.log.error({ err: cleanupErr, sandbox: id }, 'cleanup after a failed RunPodSandbox failed'),
        );
        throw err;
      }
    });
  }

  /** Stops the pod's containers, tears its network down and releases its namespaces. Idempotent. */
  async stop(namespace: string, idOrPrefix: string): Promise<Sandbox> {
    const id = this.get(namespace, idOrPrefix).id;
    return this.locks.run(id, async () => {
      const sandbox = this.sandboxes.get(id);
      if (sandbox === undefined) throw notFound(idOrPrefix);
      await this.deps.containers?.stopAll(id);
      crashPoint('sandbox.stop.after-containers');
      const releasing = this.beginRelease(sandbox);
      await this.releaseNetwork(releasing);
      crashPoint('sandbox.stop.after-network');
      await this.releaseNamespaces(releasing);
      crashPoint('sandbox.stop.after-release');
      const stopped = this.endRelease(releasing);
      this.deps.log.info({ sandbox: id }, 'pod sandbox stopped');
      if (sandbox.state === 'ready') this.emit('stopped', stopped); // a repeated stop is no new event
      return stopped;
    });
  }

  /** Stops if needed, removes the pod's containers and every file. An unknown id is not an error. */
  async remove(namespace: string, idOrPrefix: string): Promise<void> {
    const found = this.find(namespace, idOrPrefix);
    if (found === undefined) return;
    await this.locks.run(found.id, async () => {
      const sandbox = this.sandboxes.get(found.id);
      if (sandbox === undefined) return;
      await this.deps.containers?.stopAll(sandbox.id);
      await this.deps.containers?.removeAll(sandbox.id);
      crashPoint('sandbox.remove.after-containers');
      const releasing = this.beginRelease(sandbox);
      await this.releaseNetwork(releasing);
      crashPoint('sandbox.remove.after-network');
      await this.releaseNamespaces(releasing);
      crashPoint('sandbox.remove.after-release');
      await this.dropFiles(releasing);
      this.deps.log.info({ sandbox: sandbox.id }, 'pod sandbox removed');
      this.emit('removed', sandbox);
    });
  }

  private emit(action: EventActions['pod'], s: Sandbox): void {
    this.deps.events?.publish({
      type: 'pod',
      action,
      namespace: s.namespace,
      atNs: this.deps.nowNs(),
      fields: { id: s.id, name: `${s.spec.namespace}/${s.spec.name}` },
    });
  }

  /** NOT_FOUND unless exactly one sandbox of the namespace has this id or id prefix. */
  get(namespace: string, idOrPrefix: string): Sandbox {
    const found = this.find(namespace, idOrPrefix);
    if (found === undefined) throw notFound(idOrPrefix);
    return found;
  }

  find(namespace: string, idOrPrefix: string): Sandbox | undefined {
    if (idOrPrefix === '') throw new BerthError('INVALID_ARGUMENT', 'pod sandbox id is required');
    const exact = this.sandboxes.get(idOrPrefix);
    if (exact !== undefined) return exact.namespace === namespace ? exact : undefined;
    const matches = [...this.sandboxes.values()].filter(
      (s) => s.namespace === namespace && s.id.startsWith(idOrPrefix),
    );
    if (matches.length > 1) {
      throw new BerthError('INVALID_ARGUMENT', `pod sandbox id prefix "${idOrPrefix}" matches ${matches.length} pods`);
    }
    return matches[0];
  }

  /** Sandboxes of the namespace (not those still being created), oldest first. */
  list(namespace: string, filter: SandboxFilter = {}): Sandbox[] {
    // kubelet lists every second: one pass over the map, the label pairs taken apart once (not per pod).
    const labels = Object.entries(filter.labels ?? {});
    const out: Sandbox[] = [];
    for (const s of this.sandboxes.values()) {
      if (s.namespace !== namespace || s.state === 'creating') continue;
      if (filter.id !== undefined && filter.id !== '' && !s.id.startsWith(filter.id)) continue;
      if (filter.state !== undefined && s.state !== filter.state) continue;
      if (labels.some(([k, v]) => s.spec.labels[k] !== v)) continue;
      out.push(s);
    }
    return out;
  }

  /** Pods per state in every namespace, each state present (metrics). */
  countByState(): Record<SandboxState, number> {
    const counts: Record<SandboxState, number> = { creating: 0, ready: 0, notready: 0 };
    for (const s of this.sandboxes.values()) counts[s.state]++;
    return counts;
  }

  private podDirs(id: string): { readonly root: string; readonly state: string } {
    return { root: join(this.deps.rootDir, id), state: join(this.deps.stateDir, id) };
  }

  /** Namespaces, /dev/shm, sysctls, CNI, then the /etc files (which name the pod IP). Saves progress as it goes. */
  private async setUp(sandbox: Sandbox): Promise<Sandbox> {
    const { spec } = sandbox;
    const dirs = this.podDirs(sandbox.id);
    await mkdir(dirs.root, { recursive: true, mode: 0o711 });
    await mkdir(dirs.state, { recursive: true, mode: 0o711 });
    const hostname = spec.hostname !== '' ? spec.hostname : (this.deps.nodeHostname ?? nodeHostname());
    const pinned: PinnedNamespaces = await this.deps.namespaces.pin(dirs.state, {
      net: !spec.hostNetwork,
      ipc: !spec.hostIpc,
      uts: !spec.hostNetwork,
      hostname,
    });
    let network: SandboxNetwork = { ...NO_NETWORK, netns: pinned.net, ipcns: pinned.ipc, utsns: pinned.uts };
    sandbox = this.save({ ...sandbox, network });
    crashPoint('sandbox.run.after-namespaces');
    if (!spec.hostIpc) {
      const shm = join(dirs.state, 'shm');
      await this.deps.namespaces.mountShm(shm);
      crashPoint('sandbox.run.after-shm');
      network = { ...network, shm };
      sandbox = this.save({ ...sandbox, network });
    }
    await this.deps.namespaces.applySysctls(pinned, spec.sysctls);
    if (spec.pidMode === 'pod') {
      network = { ...network, pidInit: await this.deps.namespaces.startPidInit() };
      sandbox = this.save({ ...sandbox, network });
    }
    if (!spec.hostNetwork && pinned.net !== undefined) {
      const { ips } = await this.deps.network!.setUp(this.networkRequest(sandbox, pinned.net));
      crashPoint('sandbox.run.after-network');
      network = { ...network, ips: [...ips] };
      sandbox = this.save({ ...sandbox, network });
    }
    const files = await writePodFiles(dirs.root, {
      hostname,
      ips: network.ips,
      dns: spec.dns,
      hostNetwork: spec.hostNetwork,
      ...(this.deps.hostEtc === undefined ? {} : { hostEtc: this.deps.hostEtc }),
    });
    return { ...sandbox, network: { ...network, files } };
  }

  private networkRequest(sandbox: Sandbox, netnsPath: string): PodNetworkRequest {
    const { spec } = sandbox;
    return {
      id: sandbox.id,
      netnsPath,
      podName: spec.name,
      podNamespace: spec.namespace,
      podUid: spec.uid,
      portMappings: spec.portMappings,
      dns: spec.dns,
      bandwidth: bandwidthOf(spec.annotations),
    };
  }

  /** Not ready from here on, and recovery releases the rest if berthd dies before endRelease. */
  private beginRelease(sandbox: Sandbox): Sandbox {
    return this.save({ ...sandbox, state: 'notready', network: { ...sandbox.network, isReleasePending: true } });
  }

  private endRelease(sandbox: Sandbox): Sandbox {
    return this.save({
      ...sandbox,
      state: 'notready',
      network: { ...sandbox.network, netns: undefined, pidInit: 0, isReleasePending: false },
    });
  }

  /** CNI DEL, then /dev/shm and the namespaces: every step idempotent, attempted whatever the record says. */
  private async release(sandbox: Sandbox): Promise<void> {
    await this.releaseNetwork(sandbox);
    await this.releaseNamespaces(sandbox);
  }

  private async releaseNetwork(sandbox: Sandbox): Promise<void> {
    if (!sandbox.spec.hostNetwork && this.deps.network !== undefined) {
      const net = join(this.podDirs(sandbox.id).state, 'net');
      await this.deps.network.tearDown(this.networkRequest(sandbox, net));
    }
  }

  private async releaseNamespaces(sandbox: Sandbox): Promise<void> {
    const dirs = this.podDirs(sandbox.id);
    const net = join(dirs.state, 'net');
    if (sandbox.network.pidInit) await this.deps.namespaces.stopPidInit(sandbox.network.pidInit);
    await this.deps.namespaces.unmountIfMounted(join(dirs.state, 'shm'));
    await this.deps.namespaces.release({ net, ipc: join(dirs.state, 'ipc'), uts: join(dirs.state, 'uts') });
  }

  /** Releases everything, removes the pod's dirs and its record. */
  private async destroy(sandbox: Sandbox): Promise<void> {
    await this.release(sandbox);
    await this.dropFiles(sandbox);
  }

  /** The pod's dirs and its record, once released. */
  private async dropFiles(sandbox: Sandbox): Promise<void> {
    const dirs = this.podDirs(sandbox.id);
    await rm(dirs.state, { recursive: true, force: true });
    await rm(dirs.root, { recursive: true, force: true });
    crashPoint('sandbox.remove.before-record');
    this.deps.repo.delete(sandbox.id);
    this.sandboxes.delete(sandbox.id);
  }

  /** mounted: the mount points when startup began (the pinned namespace files of ready pods are among them). */
  private async recover(record: SandboxRecord, mounted: ReadonlySet<string>): Promise<void> {
    let sandbox: Sandbox;
    try {
      sandbox = this.fromRecord(record);
    } catch (err) {
      this.deps.log.error({ err, sandbox: record.id }, 'pod sandbox record is unreadable; leaving it out');
      return;
    }
    this.sandboxes.set(sandbox.id, sandbox);
    if (sandbox.state === 'creating') {
      this.deps.log.warn({ sandbox: sandbox.id }, 'pod sandbox was being created when berthd stopped; removing it');
      await this.destroy(sandbox).catch((err: unknown) =>
        this.deps.log.error({ err, sandbox: sandbox.id }, 'cleanup of a half-created pod sandbox failed'),
      );
      return;
    }
    if (sandbox.state === 'notready' && sandbox.network.isReleasePending === true) {
      this.deps.log.warn({ sandbox: sandbox.id }, 'pod sandbox was being stopped when berthd stopped; releasing it');
      await this.release(sandbox).then(
        () => this.endRelease(sandbox),
        (err: unknown) => this.deps.log.error({ err, sandbox: sandbox.id }, 'release of a stopping pod sandbox failed'),
      );
      return;
    }
    if (sandbox.state === 'ready') {
      const expected = [sandbox.network.netns, sandbox.network.ipcns].filter((p): p is string => p !== undefined);
      const pinned = expected.map((p) => mounted.has(p));
      const pidInit = sandbox.network.pidInit;
      if (pidInit) pinned.push(await this.deps.namespaces.isPidInit(pidInit));
      if (pinned.includes(false)) {
        // The node rebooted (state dir on tmpfs) or someone unmounted them: the pod is gone.
        this.deps.log.warn({ sandbox: sandbox.id }, 'pod sandbox namespaces are gone; marking it not ready');
        await this.release(sandbox).catch(() => undefined);
        this.save({ ...sandbox, state: 'notready' });
      }
    }
  }

  private save(sandbox: Sandbox): Sandbox {
    this.deps.repo.update(sandbox.id, sandbox.state, JSON.stringify(sandbox.network));
    this.sandboxes.set(sandbox.id, sandbox);
    return sandbox;
  }

  private recordOf(s: Sandbox): SandboxRecord {
    return {
      id: s.id,
      namespace: s.namespace,
      name: s.spec.reservedName,
      state: s.state,
      runtimeHandler: s.spec.runtimeHandler,
      createdAtNs: s.createdAtNs,
      config: JSON.stringify(PodSandboxConfig.toJSON(s.config)),
      network: JSON.stringify(s.network),
    };
  }

  private fromRecord(r: SandboxRecord): Sandbox {
    const config = PodSandboxConfig.fromJSON(JSON.parse(r.config));
    // The spec is re-derived with the record's handler; a handler removed from the config since is kept.
    const ctx = { ...this.deps.specContext, runtimes: [...this.deps.specContext.runtimes, r.runtimeHandler] };
    const spec = sandboxSpecOf(config, r.runtimeHandler, ctx);
    const network = { ...NO_NETWORK, ...(JSON.parse(r.network) as Partial<SandboxNetwork>) };
    return { id: r.id, namespace: r.namespace, spec, config, createdAtNs: r.createdAtNs, state: r.state, network };
  }
}

function notFound(idOrPrefix: string): BerthError {
  return new BerthError('NOT_FOUND', `pod sandbox "${idOrPrefix}" not found`);
}
